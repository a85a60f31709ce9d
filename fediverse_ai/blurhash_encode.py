"""Blurhash strings of our own images: the placeholder a client shows while the image loads.

Encoded here rather than with blurhash-python, whose encode() calls Image.getdata(),
deprecated in Pillow 12 (a DeprecationWarning now, an AttributeError in Pillow 14).
The algorithm is https://github.com/woltapp/blurhash/blob/master/Algorithm.md; the
tests check that our output matches the reference C implementation.
"""

from __future__ import annotations

import math
import operator

from PIL import Image

_BLURHASH_COMPONENTS = (4, 3)
_BLURHASH_SIDE = 64

_BASE83 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz#$%*+,-.:;=?@[]^_{|}~"
_SRGB_TO_LINEAR = tuple(
    v / 12.92 if v <= 0.04045 else ((v + 0.055) / 1.055) ** 2.4
    for v in (i / 255 for i in range(256))
)


def _base83(value: int, length: int) -> str:
    return "".join(_BASE83[(value // 83 ** (length - 1 - i)) % 83] for i in range(length))


def _linear_to_srgb(value: float) -> int:
    v = min(1.0, max(0.0, value))
    if v <= 0.0031308:
        return int(v * 12.92 * 255 + 0.5)
    return int((1.055 * v ** (1 / 2.4) - 0.055) * 255 + 0.5)


def _sign_sqrt(value: float) -> float:
    return math.copysign(math.sqrt(abs(value)), value)


def image_blurhash(image: Image.Image) -> str:
    """Blurhash with 4x3 components of ``image``, computed on a <=64px copy.

    Transparent areas are composited on white so they do not read as black.
    """
    small = image.copy()
    small.thumbnail((_BLURHASH_SIDE, _BLURHASH_SIDE), Image.Resampling.BILINEAR)
    if small.mode == "RGBA":
        background = Image.new("RGBA", small.size, (255, 255, 255, 255))
        small = Image.alpha_composite(background, small)
    small = small.convert("RGB")
    return encode_blurhash(small.tobytes(), small.width, small.height, *_BLURHASH_COMPONENTS)


def encode_blurhash(rgb: bytes, width: int, height: int, x_comp: int, y_comp: int) -> str:
    """Separable DCT: sum each row against the x cosines first, then the rows against
    the y cosines, so the cost is O(pixels * x_comp) instead of O(pixels * x * y)."""
    linear = [[_SRGB_TO_LINEAR[b] for b in rgb[c::3]] for c in range(3)]  # per channel
    cos_x = [[math.cos(math.pi * i * x / width) for x in range(width)] for i in range(x_comp)]
    cos_y = [[math.cos(math.pi * j * y / height) for y in range(height)] for j in range(y_comp)]
    # row_sums[c][i][y] = sum over x of cos_x[i][x] * linear[c][y, x]
    row_sums = [
        [
            [
                sum(map(operator.mul, cos_x[i], channel[y * width : (y + 1) * width]))
                for y in range(height)
            ]
            for i in range(x_comp)
        ]
        for channel in linear
    ]
    factors: list[tuple[float, float, float]] = []
    for j in range(y_comp):
        for i in range(x_comp):
            scale = (1 if i == 0 and j == 0 else 2) / (width * height)
            r, g, b = (scale * sum(map(operator.mul, cos_y[j], row_sums[c][i])) for c in range(3))
            factors.append((r, g, b))

    dc, ac = factors[0], factors[1:]
    result = _base83((x_comp - 1) + (y_comp - 1) * 9, 1)
    if ac:
        actual_max = max(abs(v) for factor in ac for v in factor)
        quantised_max = int(max(0, min(82, math.floor(actual_max * 166 - 0.5))))
        max_value = (quantised_max + 1) / 166
        result += _base83(quantised_max, 1)
    else:
        max_value = 1.0
        result += _base83(0, 1)
    r, g, b = (_linear_to_srgb(v) for v in dc)
    result += _base83((r << 16) + (g << 8) + b, 4)
    for factor in ac:
        qr, qg, qb = (
            int(max(0, min(18, math.floor(_sign_sqrt(v / max_value) * 9 + 9.5)))) for v in factor
        )
        result += _base83(qr * 19 * 19 + qg * 19 + qb, 2)
    return result
