"""The process's live counters and the Prometheus text exposition format (0.0.4).

Written by hand rather than with ``prometheus_client``: the format is a few lines of text,
and that library keeps module-level registries (state at import time) we would have to
work around. Counters kept here count what this process did since it started, which is
what Prometheus expects of a counter (``rate()`` handles the reset at a restart); what
must survive a restart is counted from the database by :mod:`fediverse_ai.storage.stats`.
"""

from __future__ import annotations

import collections
import math
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

Labels = tuple[tuple[str, str], ...]
# Seconds: an offline answer takes about one, a remote image model up to a few minutes.
AI_LATENCY_BUCKETS = (0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)


class Histogram:
    """Cumulative buckets, sum and count, as a Prometheus histogram reports them."""

    def __init__(self, buckets: Sequence[float]) -> None:
        self.buckets = tuple(sorted(buckets))
        self.counts = [0] * len(self.buckets)
        self.sum = 0.0
        self.count = 0

    def observe(self, value: float) -> None:
        self.sum += value
        self.count += 1
        for i, bound in enumerate(self.buckets):
            if value <= bound:
                self.counts[i] += 1


@dataclass
class Metrics:
    """Per-process counters, one instance on ``State``."""

    counters: collections.Counter[tuple[str, Labels]] = field(default_factory=collections.Counter)
    ai_latency: dict[str, Histogram] = field(default_factory=dict)
    worker_beat: float | None = None  # time.monotonic() of the worker's last sign of life
    started: float = field(default_factory=time.time)

    def inc(self, name: str, **labels: str) -> None:
        self.counters[(name, tuple(sorted(labels.items())))] += 1

    def observe_ai(self, outcome: str, seconds: float) -> None:
        histogram = self.ai_latency.get(outcome)
        if histogram is None:
            histogram = self.ai_latency[outcome] = Histogram(AI_LATENCY_BUCKETS)
        histogram.observe(seconds)

    def beat(self) -> None:
        self.worker_beat = time.monotonic()

    def worker_age(self) -> float | None:
        """Seconds since the worker's last beat; None when no worker runs in this process."""
        return None if self.worker_beat is None else time.monotonic() - self.worker_beat

    def counted(self, name: str) -> list[tuple[Labels, float]]:
        return sorted((labels, float(v)) for (n, labels), v in self.counters.items() if n == name)


@dataclass(frozen=True)
class Family:
    """One metric: its samples are (name suffix, labels, value)."""

    name: str
    type: str  # counter, gauge, histogram
    help: str
    samples: Sequence[tuple[str, Labels, float]]


def histogram_samples(histogram: Histogram, labels: Labels) -> list[tuple[str, Labels, float]]:
    samples: list[tuple[str, Labels, float]] = [
        ("_bucket", (*labels, ("le", _number(bound))), float(count))
        for bound, count in zip(histogram.buckets, histogram.counts, strict=True)
    ]
    samples.append(("_bucket", (*labels, ("le", "+Inf")), float(histogram.count)))
    samples.append(("_sum", labels, histogram.sum))
    samples.append(("_count", labels, float(histogram.count)))
    return samples


def render(families: Iterable[Family]) -> str:
    """The text exposition format, version 0.0.4."""
    lines = []
    for family in families:
        lines.append(f"# HELP {family.name} {_escape_help(family.help)}")
        lines.append(f"# TYPE {family.name} {family.type}")
        for suffix, labels, value in family.samples:
            label_text = ",".join(f'{k}="{_escape_label(v)}"' for k, v in labels)
            braces = f"{{{label_text}}}" if labels else ""
            lines.append(f"{family.name}{suffix}{braces} {_number(value)}")
    return "\n".join(lines) + "\n"


def _number(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if math.isnan(value):
        return "NaN"
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _escape_label(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')
