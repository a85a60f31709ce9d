"""Decoding caps of the image pipeline, with real images made by Pillow: small files that
claim many pixels must be refused before they are decoded, and what is decoded stays small."""

from __future__ import annotations

import io
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from PIL import Image

from fediverse_ai import media
from fediverse_ai.errors import UnsupportedMedia
from fediverse_ai.media import MediaLimits, decode_image, process_image

RED = (220, 20, 20)


def solid(fmt: str, width: int, height: int, mode: str = "RGB") -> bytes:
    """A real image of one colour: a few kilobytes however many pixels it has."""
    out = io.BytesIO()
    colour: int | tuple[int, ...] = 1 if mode == "P" else RED
    Image.new(mode, (width, height), colour).save(out, format=fmt)
    return out.getvalue()


@pytest.fixture(scope="module")
def png_6300() -> bytes:
    return solid("PNG", 6300, 6300)


def test_a_6300_square_png_of_a_hundred_kilobytes_is_refused(png_6300: bytes) -> None:
    assert len(png_6300) < 200_000  # 39.7 Mpx in a file smaller than a photo thumbnail
    with pytest.raises(UnsupportedMedia, match=r"6300x6300 pixels, at most 33177600"):
        process_image(png_6300)


def test_png_over_the_decoded_cap_is_refused_but_a_jpeg_that_large_is_decoded_reduced() -> None:
    with pytest.raises(UnsupportedMedia, match=r"a PNG image may have at most 16777216"):
        process_image(solid("PNG", 5000, 4000))  # 20 Mpx
    # JPEG: libjpeg decodes at half scale (2500x2000), just under the output box.
    out = process_image(solid("JPEG", 5000, 4000))
    assert (out.width, out.height) == (2500, 2000)


@pytest.mark.parametrize("fmt", ["GIF", "WEBP"])
def test_other_formats_have_the_decoded_cap_too(fmt: str) -> None:
    mode = "P" if fmt == "GIF" else "RGB"
    with pytest.raises(UnsupportedMedia, match=f"a {fmt} image may have at most"):
        process_image(solid(fmt, 4200, 4200, mode))


def test_decoded_cap_is_configurable() -> None:
    png = solid("PNG", 40, 40)
    with pytest.raises(UnsupportedMedia):
        process_image(png, limits=MediaLimits(max_decoded_pixels=1599))
    assert process_image(png, limits=MediaLimits(max_decoded_pixels=1600)).width == 40
    # A JPEG over the cap is decoded at a scale that fits it.
    jpeg = solid("JPEG", 400, 400)
    out = process_image(jpeg, limits=MediaLimits(max_decoded_pixels=100 * 100))
    assert (out.width, out.height) == (100, 100)


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        ((7680, 4320), 2),  # exactly twice the box: half scale loses nothing
        ((7679, 4319), 2),  # a pixel short: full scale would fill the box, but is 33 Mpx
        ((3840, 2160), 1),
        ((4000, 3000), 1),  # 12 Mpx, under the cap: decoded whole
        ((30_000, 1000), 4),  # a panorama: 1/4 still fills the 3840 px width
        ((40_000, 30_000), 8),  # 1.2 Gpx: the most libjpeg can reduce (refused from the header)
    ],
)
def test_jpeg_scale(size: tuple[int, int], expected: int) -> None:
    assert media._jpeg_scale(size, (3840, 2160), 16_777_216) == expected


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        ((1600, 1200), 2),  # 800x600 fills 3/4 of a 1024 box: decoded at half scale, not resized
        ((1300, 975), 1),  # 650 would not: decoded whole, then resampled
        ((4000, 3000), 4),  # 1000x750
        ((1024, 768), 1),
    ],
)
def test_a_quick_decode_may_fill_three_quarters_of_the_box(
    size: tuple[int, int], expected: int
) -> None:
    assert media._jpeg_scale(size, (1024, 1024), 16_777_216, 0.75) == expected


def test_decode_image_gives_the_pipelines_pixels_without_an_encode() -> None:
    box = MediaLimits(max_width=1024, max_height=1024)
    jpeg = solid("JPEG", 1600, 1200)
    assert decode_image(jpeg, limits=box, quick=True).image.size == (800, 600)
    published = decode_image(jpeg, limits=box)
    assert published.image.size == (1024, 768) and not published.graphic
    assert process_image(jpeg, limits=box).width == 1024  # what is published still fills it
    graphic = decode_image(solid("PNG", 300, 200, mode="P"), quick=True)
    assert graphic.graphic and graphic.image.mode == "RGB"
    with pytest.raises(UnsupportedMedia):
        decode_image(solid("PNG", 8000, 8000), quick=True)


# Peak memory, measured in a fresh interpreter as the kernel's high-water mark of its resident
# set (VmHWM). Not getrusage's ru_maxrss: a child inherits that from its parent across fork and
# exec, so it would report the test process's peak (these tests make big images), not its own.
_MEASURE = textwrap.dedent(
    """
    import re, sys
    from pathlib import Path
    from fediverse_ai.errors import UnsupportedMedia
    from fediverse_ai.media import process_image
    def high_water_kb():
        status = Path("/proc/self/status").read_text()
        return int(re.search(r"VmHWM:\\s+(\\d+) kB", status).group(1))
    data = Path(sys.argv[1]).read_bytes()
    before = high_water_kb()
    try:
        process_image(data)
        outcome = "processed"
    except UnsupportedMedia:
        outcome = "refused"
    print(outcome, (high_water_kb() - before) // 1024)
    """
)


def peak_mb(path: Path) -> tuple[str, int]:
    """What processing the file did and how many MB the process grew at peak."""
    result = subprocess.run(
        [sys.executable, "-c", _MEASURE, str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    outcome, grown = result.stdout.split()
    return outcome, int(grown)


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads Linux's /proc")
def test_refusing_the_6300_square_png_costs_no_memory(tmp_path: Path, png_6300: bytes) -> None:
    path = tmp_path / "bomb.png"
    path.write_bytes(png_6300)
    outcome, grown = peak_mb(path)
    assert outcome == "refused"
    assert grown < 20  # before the cap it was decoded: about 380 MB


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads Linux's /proc")
@pytest.mark.parametrize(
    ("name", "fmt", "size", "budget_mb"),
    [
        ("at-the-cap.png", "PNG", (4096, 4096), 160),  # 4 bytes a pixel, plus the resampling
        ("just-under-twice-the-box.jpg", "JPEG", (7679, 4319), 160),  # decoded at half scale
    ],
)
def test_largest_accepted_images_stay_within_a_memory_budget(
    tmp_path: Path, name: str, fmt: str, size: tuple[int, int], budget_mb: int
) -> None:
    path = tmp_path / name
    path.write_bytes(solid(fmt, *size))
    outcome, grown = peak_mb(path)
    assert outcome == "processed"
    assert grown < budget_mb
