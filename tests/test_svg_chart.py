"""The chart module's output is well-formed SVG: parsed as XML, its points where the data says."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from fediverse_ai.svg_chart import Box, Series, line_chart, nice_max

SVG = "{http://www.w3.org/2000/svg}"


def parse(svg: str) -> ET.Element:
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg"
    return root


def points(root: ET.Element) -> list[list[tuple[float, float]]]:
    return [
        [tuple(float(n) for n in p.split(",")) for p in line.attrib["points"].split()]  # type: ignore[misc]
        for line in root.iter(f"{SVG}polyline")
    ]


def test_one_series_is_one_line_with_a_point_per_value() -> None:
    box = Box(width=300, height=200, left=40, right=10, top=10, bottom=50)
    root = parse(line_chart("Likes", ["a", "b", "c"], [Series("Likes", [0, 5, 10])], box=box))

    [line] = points(root)
    assert [x for x, _ in line] == [40.0, 165.0, 290.0]
    # The scale is four round steps: 0 to 20 by 5 (10 ÷ 4 rounds up to 5); y grows downwards.
    assert [y for _, y in line] == [150.0, 115.0, 80.0]
    ticks = [t.text for t in root.iter(f"{SVG}text") if t.attrib.get("text-anchor") == "end"]
    assert ticks == ["0", "5", "10", "15", "20"]
    assert len(list(root.iter(f"{SVG}circle"))) == 3
    assert root.attrib["role"] == "img"
    assert root.findtext(f"{SVG}title") == "Likes"
    assert "highest 10 on c" in (root.findtext(f"{SVG}desc") or "")


def test_a_gap_splits_the_line_and_draws_no_point() -> None:
    root = parse(line_chart("Rate", ["1", "2", "3", "4"], [Series("r", [50, None, 20, 30])]))

    runs = points(root)
    assert [len(r) for r in runs] == [1, 2]
    assert len(list(root.iter(f"{SVG}circle"))) == 3


def test_hostile_labels_and_names_are_text_not_markup() -> None:
    evil = '</text><script>alert(1)</script><a href="x">'
    root = parse(line_chart(evil, [evil, "b"], [Series(evil, [1, 2])]))

    assert not list(root.iter(f"{SVG}script")) and not list(root.iter(f"{SVG}a"))
    assert root.findtext(f"{SVG}title") == evil
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert evil in texts  # the x label and the legend, as plain text
    tips = [t.text or "" for c in root.iter(f"{SVG}circle") for t in c.iter(f"{SVG}title")]
    assert tips[0].startswith(evil)


def test_percent_scale_is_fixed_and_ticks_carry_the_unit() -> None:
    root = parse(line_chart("p", ["x", "y"], [Series("a", [12.5, 80])], unit="%", y_max=100))

    ticks = [t.text for t in root.iter(f"{SVG}text") if t.attrib.get("text-anchor") == "end"]
    assert ticks == ["0%", "25%", "50%", "75%", "100%"]
    tips = [t.text for c in root.iter(f"{SVG}circle") for t in c.iter(f"{SVG}title")]
    assert tips == ["a, x: 12.5%", "a, y: 80%"]


def test_no_data_is_still_a_valid_chart() -> None:
    root = parse(line_chart("Nothing", [], [Series("a", [])]))
    assert points(root) == []
    assert root.findtext(f"{SVG}desc") == "No data."
    root = parse(line_chart("Zeros", ["d"], [Series("a", [None])]))
    assert points(root) == [] and "a: no data" in (root.findtext(f"{SVG}desc") or "")


def test_many_days_get_a_readable_number_of_labels() -> None:
    labels = [f"d{i}" for i in range(90)]
    root = parse(line_chart("t", labels, [Series("a", [float(i) for i in range(90)])]))
    x_labels = [t for t in root.iter(f"{SVG}text") if t.attrib.get("text-anchor") == "middle"]
    assert 2 <= len(x_labels) <= 8
    [line] = points(root)
    assert len(line) == 90


def test_series_of_the_wrong_length_are_refused() -> None:
    with pytest.raises(ValueError, match="2 values for 3 labels"):
        line_chart("t", ["a", "b", "c"], [Series("s", [1, 2])])


@pytest.mark.parametrize(
    ("value", "expected"), [(0, 1), (0.3, 0.5), (1, 1), (7, 10), (11, 20), (240, 500), (1000, 1000)]
)
def test_nice_max_rounds_up_to_one_two_five(value: float, expected: float) -> None:
    assert nice_max(value) == pytest.approx(expected)
