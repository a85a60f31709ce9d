"""Line charts as inline SVG, drawn on the server: pages with charts and no script.

Pure: numbers and labels in, one ``<svg>`` element out, every piece of text escaped (labels
can come from the database: a model's name is whatever a backend answered). The chart is an
image to the accessibility tree (``role="img"``, a ``<title>`` and a ``<desc>`` that reads the
figures out), and each point carries a ``<title>`` that browsers show on hover. Series differ in
dash pattern as well as colour, so they stay apart without colour too. A ``None`` value is a
gap (a day with nothing to rate), not a zero.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

# Readable on the light and the dark theme alike.
COLOURS = ("#2f6fdf", "#1f9e5a", "#d9480f", "#b3261e", "#7a2fb5", "#8a8a96")
DASHES = ("", "6 3", "2 3", "8 3 2 3", "1 2", "4 4")
MAX_LABELS = 8
TICKS = 4


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[float | None]


@dataclass(frozen=True)
class Box:
    width: int = 640
    height: int = 240
    left: int = 44
    right: int = 12
    top: int = 12
    bottom: int = 52  # room for the x labels and the legend


def nice_max(value: float) -> float:
    """The smallest 1, 2 or 5 × 10ⁿ at or above ``value``: round axis ticks."""
    if value <= 0:
        return 1.0
    step = 10 ** math.floor(math.log10(value))
    for factor in (1, 2, 5, 10):
        if factor * step >= value:
            return float(factor * step)
    return float(10 * step)


def _number(value: float, unit: str) -> str:
    text = f"{value:.1f}".rstrip("0").rstrip(".") if value % 1 else f"{int(value)}"
    return f"{text}{unit}"


def _xy(box: Box, index: int, count: int, value: float, top: float) -> tuple[float, float]:
    inner_w = box.width - box.left - box.right
    inner_h = box.height - box.top - box.bottom
    x = box.left + (inner_w * index / (count - 1) if count > 1 else inner_w / 2)
    y = box.top + inner_h * (1 - value / top)
    return round(x, 1), round(y, 1)


def _runs(values: Sequence[float | None]) -> list[list[tuple[int, float]]]:
    """Unbroken stretches of values: a line never crosses a gap."""
    runs: list[list[tuple[int, float]]] = [[]]
    for i, v in enumerate(values):
        if v is None:
            if runs[-1]:
                runs.append([])
        else:
            runs[-1].append((i, float(v)))
    return [r for r in runs if r]


def line_chart(
    title: str,
    labels: Sequence[str],
    series: Sequence[Series],
    *,
    unit: str = "",
    y_max: float | None = None,
    box: Box = Box(),
) -> str:
    """An SVG line chart of ``series`` over ``labels`` (one value per label, ``None``: none).

    ``y_max`` fixes the scale (100 for percentages); otherwise it is the data's rounded up.
    """
    count = len(labels)
    for s in series:
        if len(s.values) != count:
            raise ValueError(f"series {s.name!r} has {len(s.values)} values for {count} labels")
    seen = [v for s in series for v in s.values if v is not None]
    # Four round steps up the axis (0, 10, 20, 30, 40), not a round top cut in four (37.5).
    top = y_max if y_max is not None else TICKS * nice_max(max(seen, default=0.0) / TICKS)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img"'
        f' viewBox="0 0 {box.width} {box.height}" width="100%"'
        f' preserveAspectRatio="xMidYMid meet" font-size="11" font-family="sans-serif">',
        f"<title>{escape(title)}</title>",
        f"<desc>{escape(_describe(labels, series, unit))}</desc>",
    ]
    out += _axes(box, labels, top, unit)
    for k, s in enumerate(series):
        colour, dash = COLOURS[k % len(COLOURS)], DASHES[k % len(DASHES)]
        for run in _runs(s.values):
            points = " ".join(f"{x},{y}" for x, y in (_xy(box, i, count, v, top) for i, v in run))
            dashing = f' stroke-dasharray="{dash}"' if dash else ""
            out.append(
                f'<polyline fill="none" stroke="{colour}" stroke-width="2"{dashing}'
                f' points="{points}"/>'
            )
            for i, v in run:
                x, y = _xy(box, i, count, v, top)
                tip = f"{s.name}, {labels[i]}: {_number(v, unit)}"
                out.append(
                    f'<circle cx="{x}" cy="{y}" r="2.5" fill="{colour}">'
                    f"<title>{escape(tip)}</title></circle>"
                )
    out += _legend(box, series)
    out.append("</svg>")
    return "".join(out)


def _axes(box: Box, labels: Sequence[str], top: float, unit: str) -> list[str]:
    out = []
    bottom_y = box.height - box.bottom
    for tick in range(TICKS + 1):
        value = top * tick / TICKS
        y = round(box.top + (bottom_y - box.top) * (1 - tick / TICKS), 1)
        out.append(
            f'<line x1="{box.left}" y1="{y}" x2="{box.width - box.right}" y2="{y}"'
            f' stroke="currentColor" stroke-opacity="{0.5 if tick == 0 else 0.15}"/>'
            f'<text x="{box.left - 4}" y="{y + 4}" text-anchor="end" fill="currentColor">'
            f"{escape(_number(value, unit))}</text>"
        )
    count = len(labels)
    every = max(1, math.ceil(count / MAX_LABELS))
    for i in range(0, count, every):
        x, _ = _xy(box, i, count, 0, 1)
        out.append(
            f'<text x="{x}" y="{bottom_y + 14}" text-anchor="middle" fill="currentColor">'
            f"{escape(labels[i])}</text>"
        )
    return out


def _legend(box: Box, series: Sequence[Series]) -> list[str]:
    out = []
    x, y = box.left, box.height - 12
    for k, s in enumerate(series):
        colour, dash = COLOURS[k % len(COLOURS)], DASHES[k % len(DASHES)]
        dashing = f' stroke-dasharray="{dash}"' if dash else ""
        out.append(
            f'<line x1="{x}" y1="{y - 4}" x2="{x + 18}" y2="{y - 4}" stroke="{colour}"'
            f' stroke-width="2"{dashing}/>'
            f'<text x={quoteattr(str(x + 22))} y={quoteattr(str(y))} fill="currentColor">'
            f"{escape(s.name)}</text>"
        )
        x += 30 + 7 * len(s.name)
    return out


def _describe(labels: Sequence[str], series: Sequence[Series], unit: str) -> str:
    """The figures in words, for a screen reader: the chart's content, not its look."""
    if not labels:
        return "No data."
    parts = []
    for s in series:
        known = [(labels[i], v) for i, v in enumerate(s.values) if v is not None]
        if not known:
            parts.append(f"{s.name}: no data")
            continue
        total = sum(v for _, v in known)
        peak_label, peak = max(known, key=lambda lv: lv[1])
        kind = f"total {_number(total, unit)}, " if not unit else ""
        parts.append(f"{s.name}: {kind}highest {_number(peak, unit)} on {peak_label}")
    return f"From {labels[0]} to {labels[-1]}. " + "; ".join(parts) + "."
