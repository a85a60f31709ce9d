"""Default avatar and header images, drawn from a seed so each actor gets its own.

Mastodon shows a grey placeholder for actors without ``icon``; a distinct picture
makes the AI actor and new users recognisable in timelines from the first post.
"""

from __future__ import annotations

import colorsys
import hashlib
import io

from PIL import Image, ImageDraw


def _palette(seed: str) -> tuple[tuple[int, int, int], tuple[int, int, int], bytes]:
    digest = hashlib.sha256(seed.encode("utf-8")).digest()
    hue = digest[0] / 255
    first = colorsys.hsv_to_rgb(hue, 0.55, 0.95)
    second = colorsys.hsv_to_rgb((hue + 0.12 + digest[1] / 2550) % 1.0, 0.75, 0.55)
    return (
        (int(first[0] * 255), int(first[1] * 255), int(first[2] * 255)),
        (int(second[0] * 255), int(second[1] * 255), int(second[2] * 255)),
        digest,
    )


def _gradient(
    size: tuple[int, int], top: tuple[int, int, int], bottom: tuple[int, int, int]
) -> Image.Image:
    height = size[1]
    column = Image.new("RGB", (1, height))
    for y in range(height):
        t = y / max(height - 1, 1)
        column.putpixel(
            (0, y), tuple(int(a + (b - a) * t) for a, b in zip(top, bottom, strict=True))
        )
    return column.resize(size)


def _png(img: Image.Image) -> bytes:
    out = io.BytesIO()
    img.save(out, format="PNG", optimize=True)
    return out.getvalue()


def render_avatar(seed: str, size: int = 400) -> bytes:
    """A symmetric 5x5 identicon over a two-colour gradient, as PNG bytes."""
    light, dark, digest = _palette(seed)
    img = _gradient((size, size), light, dark)
    draw = ImageDraw.Draw(img)
    cell = size // 7
    offset = (size - cell * 5) // 2
    for row in range(5):
        for col in range(3):
            if digest[2 + row * 3 + col] % 2 == 0:
                continue
            for c in {col, 4 - col}:
                x0, y0 = offset + c * cell, offset + row * cell
                draw.rounded_rectangle(
                    (x0 + 3, y0 + 3, x0 + cell - 3, y0 + cell - 3),
                    radius=cell // 5,
                    fill=(255, 255, 255),
                )
    return _png(img)


def render_header(seed: str, size: tuple[int, int] = (1500, 500)) -> bytes:
    """A soft gradient banner with a few translucent circles, as PNG bytes."""
    light, dark, digest = _palette(seed)
    img = _gradient(size, dark, light).convert("RGBA")
    overlay = Image.new("RGBA", size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    width, height = size
    for i in range(6):
        cx = digest[10 + i] * width // 255
        cy = digest[16 + i] * height // 255
        r = 40 + digest[22 + i] * height // 400
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=(255, 255, 255, 40))
    return _png(Image.alpha_composite(img, overlay).convert("RGB"))
