"""Custom emoji: what drawing them costs a page, and what the emoji gate costs a picture
(``python -m bench.emoji``, a few seconds, not part of ``make bench``).

``emojify_html`` runs on every post of every page (cards), so it is timed on a typical post
without emoji (the fast path: no colon, or nothing declared), a typical post with three, and
the worst a peer can send: 100,000 characters of content full of the 50 shortcodes it may
declare. ``process_emoji`` runs once per remote picture (a ``cache_media`` job) and per upload:
timed on a small PNG, a 1024x1024 PNG (the largest accepted) and an animated GIF. Process CPU
time, so the figures hold on a busy machine.
"""

from __future__ import annotations

import functools
import io
import time
from collections.abc import Callable
from typing import Any

from PIL import Image

from fediverse_ai.emoji_html import emojify_html
from fediverse_ai.emoji_image import process_emoji
from fediverse_ai.sanitize import sanitize_html

from .common import table


def _cpu_ms(fn: Callable[[], Any], repeat: int) -> float:
    start = time.process_time()
    for _ in range(repeat):
        fn()
    return (time.process_time() - start) * 1000 / repeat


def _png(side: int) -> bytes:
    """A smooth picture with transparency, as emoji are (a photo would not fit in 256 KB)."""
    shade = Image.radial_gradient("L").resize((side, side))
    image = Image.merge("RGBA", (shade, shade.transpose(Image.Transpose.ROTATE_90), shade, shade))
    out = io.BytesIO()
    image.save(out, "PNG", optimize=True)
    return out.getvalue()


def _gif(side: int, frames: int) -> bytes:
    out = io.BytesIO()
    pictures = [Image.new("RGB", (side, side), (i * 20 % 255, 90, 160)) for i in range(frames)]
    pictures[0].save(out, "GIF", save_all=True, append_images=pictures[1:], duration=40, loop=0)
    return out.getvalue()


def html_rows() -> list[dict[str, Any]]:
    words = "the crows of the old town remember every face that fed them "
    plain = sanitize_html(
        f'<p>{words * 6}<a href="https://x.example/a">https://x.example/a</a></p>'
    )
    three = sanitize_html(f"<p>{words * 3}:blobcat: :party: {words * 3} :wave:</p>")
    declared = {c: f"/cache/{i:032x}.png" for i, c in enumerate(("blobcat", "party", "wave"))}
    fifty = {f"e{i}": f"/cache/{i:032x}.png" for i in range(50)}
    worst = sanitize_html("<p>" + " ".join(f":e{i % 50}:" for i in range(20_000))[:99_990] + "</p>")
    cases = [
        ("typical post, no emoji declared", plain, {}, 20_000),
        ("typical post, 3 declared, none written", plain, declared, 2_000),
        ("typical post, 3 written", three, declared, 2_000),
        (f"worst: {len(worst):,} chars, 50 declared, all written", worst, fifty, 5),
    ]
    return [
        {
            "post": name,
            "bytes": len(html),
            "CPU ms": _cpu_ms(functools.partial(emojify_html, html, emoji), repeat),
        }
        for name, html, emoji, repeat in cases
    ]


def image_rows() -> list[dict[str, Any]]:
    cases = [
        ("PNG 128x128", _png(128)),
        ("PNG 1024x1024 (largest accepted)", _png(1024)),
        ("GIF 512x512, 30 frames", _gif(512, 30)),
    ]
    return [
        {
            "picture": name,
            "input KB": len(data) / 1024,
            "CPU ms": _cpu_ms(functools.partial(process_emoji, data), 5),
        }
        for name, data in cases
    ]


def main() -> None:
    print(table("emojify_html (per post shown)", html_rows()))
    print(table("process_emoji (per picture cached or uploaded)", image_rows()))


if __name__ == "__main__":
    main()
