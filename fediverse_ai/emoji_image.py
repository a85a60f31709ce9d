"""The picture of a custom emoji: a small static PNG, whoever sent it.

Remote emoji and the ones our admins upload go through the same gate. Only PNG, GIF and
WebP are read (Mastodon's list; SVG is a document that can carry script, and Pillow cannot
read it anyway), at most :data:`MAX_BYTES` and :data:`MAX_SIDE` pixels a side checked from
the header before any decoding, and the first frame is re-encoded by Pillow as a PNG of at
most :data:`OUTPUT_SIDE` pixels: an animation is shown still, and no chunk of the original
survives. CPU-bound: call it in a worker thread.
"""

from __future__ import annotations

import io
import warnings

from PIL import Image

from .errors import PayloadTooLarge, UnsupportedMedia
from .media import MediaLimits, ProcessedImage, process_image

__all__ = ["MAX_BYTES", "MAX_SIDE", "OUTPUT_SIDE", "process_emoji"]

#: Mastodon's ``CustomEmoji::LIMIT`` (local) and ``REMOTE_LIMIT`` are 256 KB.
MAX_BYTES = 256 * 1024
MAX_SIDE = 1024
OUTPUT_SIDE = 256  # shown at text height; twice that covers dense screens
_FORMATS = ("PNG", "GIF", "WEBP")
_LIMITS = MediaLimits(
    max_input_bytes=MAX_BYTES,
    max_pixels=MAX_SIDE * MAX_SIDE,
    max_decoded_pixels=MAX_SIDE * MAX_SIDE,
    max_width=OUTPUT_SIDE,
    max_height=OUTPUT_SIDE,
)


def process_emoji(data: bytes) -> ProcessedImage:
    """Check and re-encode an emoji picture; raises ``PayloadTooLarge`` or ``UnsupportedMedia``."""
    if len(data) > MAX_BYTES:
        raise PayloadTooLarge(f"an emoji is at most {MAX_BYTES // 1024} KB")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=_FORMATS) as opened:
                width, height = opened.size
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise UnsupportedMedia(f"an emoji is at most {MAX_SIDE}x{MAX_SIDE} pixels") from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise UnsupportedMedia("an emoji must be a PNG, GIF or WebP picture") from exc
    if width > MAX_SIDE or height > MAX_SIDE:
        raise UnsupportedMedia(f"an emoji is at most {MAX_SIDE}x{MAX_SIDE} pixels")
    return process_image(data, limits=_LIMITS, always_png=True)
