"""Blurhash strings decoded into tiny PNG placeholders (shown while the real image loads).

Pure apart from Pillow; the web layer serves the result with an immutable cache header.
"""

from __future__ import annotations

import io
import math
from functools import lru_cache

from PIL import Image

_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz#$%*+,-.:;=?@[]^_{|}~"
_INDEX = {c: i for i, c in enumerate(_ALPHABET)}
SIZE = 32


def _decode83(text: str) -> int:
    value = 0
    for c in text:
        value = value * 83 + _INDEX[c]
    return value


def is_valid(value: str) -> bool:
    if len(value) < 6 or len(value) > 90 or any(c not in _INDEX for c in value):
        return False
    flag = _INDEX[value[0]]
    nx, ny = flag % 9 + 1, flag // 9 + 1
    return len(value) == 4 + 2 * nx * ny


def _srgb_to_linear(v: int) -> float:
    x = v / 255
    return x / 12.92 if x <= 0.04045 else ((x + 0.055) / 1.055) ** 2.4


def _linear_to_srgb(v: float) -> int:
    x = max(0.0, min(1.0, v))
    s = x * 12.92 if x <= 0.0031308 else 1.055 * x ** (1 / 2.4) - 0.055
    return int(s * 255 + 0.5)


def _sign_pow(v: float, exp: float) -> float:
    return math.copysign(abs(v) ** exp, v)


@lru_cache(maxsize=512)
def placeholder_png(value: str) -> bytes:
    """A SIZE×SIZE PNG for a valid blurhash (check with :func:`is_valid` first)."""
    if not is_valid(value):
        raise ValueError("not a blurhash")
    flag = _INDEX[value[0]]
    nx, ny = flag % 9 + 1, flag // 9 + 1
    max_ac = (_INDEX[value[1]] + 1) / 166
    dc = _decode83(value[2:6])
    colors = [
        (
            _srgb_to_linear(dc >> 16),
            _srgb_to_linear((dc >> 8) & 255),
            _srgb_to_linear(dc & 255),
        )
    ]
    for k in range(1, nx * ny):
        q = _decode83(value[4 + 2 * k : 6 + 2 * k])
        colors.append(
            (
                _sign_pow((q // 361 - 9) / 9, 2.0) * max_ac,
                _sign_pow(((q // 19) % 19 - 9) / 9, 2.0) * max_ac,
                _sign_pow((q % 19 - 9) / 9, 2.0) * max_ac,
            )
        )
    cos_x = [[math.cos(math.pi * x * i / SIZE) for i in range(nx)] for x in range(SIZE)]
    cos_y = [[math.cos(math.pi * y * j / SIZE) for j in range(ny)] for y in range(SIZE)]
    pixels = bytearray()
    for y in range(SIZE):
        for x in range(SIZE):
            r = g = b = 0.0
            for j in range(ny):
                cy = cos_y[y][j]
                for i in range(nx):
                    basis = cos_x[x][i] * cy
                    c = colors[i + j * nx]
                    r += c[0] * basis
                    g += c[1] * basis
                    b += c[2] * basis
            pixels += bytes((_linear_to_srgb(r), _linear_to_srgb(g), _linear_to_srgb(b)))
    out = io.BytesIO()
    Image.frombytes("RGB", (SIZE, SIZE), bytes(pixels)).save(out, format="PNG", optimize=True)
    return out.getvalue()
