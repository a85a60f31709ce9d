"""Blurhash strings decoded into tiny PNG placeholders (shown while the real image loads).

Pure apart from Pillow; the web layer serves the result with an immutable cache header.

Anybody can ask for any valid blurhash (remote attachments carry whatever their server put
there, and the URL is public), so decoding is kept cheap: the cosine sums are separated into
rows and columns (``SIZE·nx·ny + SIZE²·nx`` products instead of ``SIZE²·nx·ny``), linear light
goes back to sRGB through a bisected threshold table instead of a power per channel, and
recent results are cached. About 1 ms of CPU per new value, microseconds per repeated one
(BENCHMARKS.md, "Blurhash placeholders").
"""

from __future__ import annotations

import io
import math
from bisect import bisect_left
from functools import lru_cache

from PIL import Image

_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz#$%*+,-.:;=?@[]^_{|}~"
_INDEX = {c: i for i, c in enumerate(_ALPHABET)}
SIZE = 32
MAX_LENGTH = 90  # 43 components; Mastodon sends 4x4 (36 characters), we send 4x3 (28)
# Each cached PNG is well under 2 KB, so the cache stays below a few MB.
CACHE_ENTRIES = 2048
_COS = [[math.cos(math.pi * p * k / SIZE) for k in range(9)] for p in range(SIZE)]


def _srgb_to_linear(v: int) -> float:
    x = v / 255
    return x / 12.92 if x <= 0.04045 else ((x + 0.055) / 1.055) ** 2.4


def _srgb_of(x: float) -> float:
    return x * 12.92 if x <= 0.0031308 else 1.055 * x ** (1 / 2.4) - 0.055


# _THRESHOLDS[k] is the linear value where rounding to sRGB k + 1 begins: bisecting it gives
# the same byte as int(srgb(x) * 255 + 0.5), with a C-speed search instead of a power.
_THRESHOLDS = [0.0] * 255
for _k in range(255):
    _lo, _hi = 0.0, 1.0
    for _ in range(60):
        _mid = (_lo + _hi) / 2
        if _srgb_of(_mid) * 255 + 0.5 >= _k + 1:
            _hi = _mid
        else:
            _lo = _mid
    _THRESHOLDS[_k] = _hi


def _decode83(text: str) -> int:
    value = 0
    for c in text:
        value = value * 83 + _INDEX[c]
    return value


def is_valid(value: str) -> bool:
    """A well-formed blurhash of at most MAX_LENGTH characters (its length fits its header)."""
    if len(value) < 6 or len(value) > MAX_LENGTH or any(c not in _INDEX for c in value):
        return False
    flag = _INDEX[value[0]]
    nx, ny = flag % 9 + 1, flag // 9 + 1
    return len(value) == 4 + 2 * nx * ny


def _sign_pow(v: float, exp: float) -> float:
    return math.copysign(abs(v) ** exp, v)


def _components(value: str, nx: int, ny: int) -> list[tuple[float, float, float]]:
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
    return colors


@lru_cache(maxsize=CACHE_ENTRIES)
def placeholder_png(value: str) -> bytes:
    """A SIZE×SIZE PNG for a valid blurhash (check with :func:`is_valid` first)."""
    if not is_valid(value):
        raise ValueError("not a blurhash")
    flag = _INDEX[value[0]]
    nx, ny = flag % 9 + 1, flag // 9 + 1
    colors = _components(value, nx, ny)
    levels = _THRESHOLDS
    pixels = bytearray()
    for y in range(SIZE):
        cy = _COS[y]
        # This row's colour as a sum over the x components only.
        row = []
        for i in range(nx):
            r = g = b = 0.0
            for j in range(ny):
                c = colors[i + j * nx]
                w = cy[j]
                r += c[0] * w
                g += c[1] * w
                b += c[2] * w
            row.append((i, r, g, b))
        for x in range(SIZE):
            cx = _COS[x]
            r = g = b = 0.0
            for i, cr, cg, cb in row:
                w = cx[i]
                r += cr * w
                g += cg * w
                b += cb * w
            pixels.append(bisect_left(levels, r))
            pixels.append(bisect_left(levels, g))
            pixels.append(bisect_left(levels, b))
    out = io.BytesIO()
    Image.frombytes("RGB", (SIZE, SIZE), bytes(pixels)).save(out, format="PNG")
    return out.getvalue()
