"""The offline image backend's edits: honest filters of the asker's picture, with Pillow only.

No model repaints here, so no edit pretends to: the words of the request pick one of a few
classic filters (watercolour, pencil sketch, black and white, sepia, pop-art poster), and the
caption says which filter was applied and that it is a filter. A request the filters cannot
do (removing a background, "in the style of" a painter, adding things) gets the nearest
filter and a caption that says so plainly.
"""

from __future__ import annotations

import io
import unicodedata
from collections.abc import Callable

from PIL import Image, ImageChops, ImageEnhance, ImageFilter, ImageOps

Filter = Callable[[Image.Image], Image.Image]
FILTER_LABEL = "image filters (not a neural model)"


def _watercolour(image: Image.Image) -> Image.Image:
    soft = image.filter(ImageFilter.MedianFilter(5)).filter(ImageFilter.SMOOTH_MORE)
    soft = ImageEnhance.Color(soft).enhance(1.25)
    edges = ImageOps.invert(soft.convert("L").filter(ImageFilter.FIND_EDGES)).convert("RGB")
    washed = Image.blend(soft, Image.new("RGB", soft.size, (250, 246, 236)), 0.18)
    return ImageChops.multiply(washed, edges)


def _sketch(image: Image.Image) -> Image.Image:
    grey = ImageOps.autocontrast(image.convert("L").filter(ImageFilter.SMOOTH))
    lines = grey.filter(ImageFilter.CONTOUR)
    # Contours over a pale copy of the picture: pencil lines, a little shading, white paper.
    pale = grey.point(lambda v: 155 + v * 100 // 255)
    return ImageChops.multiply(lines, pale).convert("RGB")


def _black_and_white(image: Image.Image) -> Image.Image:
    return ImageOps.autocontrast(image.convert("L")).convert("RGB")


def _sepia(image: Image.Image) -> Image.Image:
    return ImageOps.colorize(image.convert("L"), (40, 26, 13), (255, 240, 192))


def _poster(image: Image.Image) -> Image.Image:
    bold = ImageOps.posterize(ImageEnhance.Color(image).enhance(1.8), 3)
    return bold.filter(ImageFilter.EDGE_ENHANCE_MORE)


# (words, name, filter), the first whose word is in the request wins; the last is the default.
_FILTERS: tuple[tuple[tuple[str, ...], str, Filter], ...] = (
    (("watercolour", "watercolor", "aquarelle", "acquerello", "acuarela", "aquarell", "paint"),
     "a watercolour filter", _watercolour),
    (("sketch", "pencil", "drawing", "croquis", "crayon", "schizzo", "matita", "boceto", "lapiz",
      "skizze", "bleistift"), "a pencil-sketch filter", _sketch),
    (("black and white", "noir et blanc", "bianco e nero", "blanco y negro", "schwarz-weiss",
      "schwarzweiss", "greyscale", "grayscale", "monochrome"), "a black-and-white filter",
     _black_and_white),
    (("sepia", "vintage", "old photo", "retro"), "a sepia filter", _sepia),
    ((), "a pop-art poster filter", _poster),
)  # fmt: skip


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def pick(prompt: str) -> tuple[str, Filter]:
    """The filter a request asks for (by its words), else the default poster filter."""
    folded = _fold(prompt)
    for words, name, apply in _FILTERS:
        if not words or any(w in folded for w in words):
            return name, apply
    raise AssertionError("the last filter has no words")  # pragma: no cover


def apply_filter(image_bytes: bytes, prompt: str, width: int, height: int) -> tuple[bytes, str]:
    """``(png, caption)``: the picture filtered and fitted within ``width`` x ``height``.

    ``image_bytes`` has been through the media pipeline (decoded under its pixel caps).
    """
    name, apply = pick(prompt)
    with Image.open(io.BytesIO(image_bytes)) as opened:
        image = ImageOps.exif_transpose(opened).convert("RGB")
    image.thumbnail((width, height), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    apply(image).save(out, format="PNG")
    caption = (
        f"Your picture through {name}. This instance's offline image backend applies classic "
        "filters: it cannot repaint, remove backgrounds or add things."
    )
    return out.getvalue(), caption
