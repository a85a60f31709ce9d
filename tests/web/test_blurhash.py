"""Blurhash placeholders over HTTP: URLs that survive every character of the alphabet, clean 404s
for anything else, one decode per value, and pictures that match the reference decoder."""

from __future__ import annotations

import io
import random
import re
from pathlib import Path
from urllib.parse import unquote

import blurhash as reference
import pytest
from PIL import Image
from support.live import live_server
from support.remote import PUBLIC, remote_server

from fediverse_ai.blurhash_png import _ALPHABET, is_valid, placeholder_png
from fediverse_ai.media import process_image

from .support import Browserish
from .test_pages import png

_ESCAPED_PATH = re.compile(r"^/blurhash/(?:[A-Za-z0-9._~-]|%[0-9A-F]{2})+\.png$")


def crafted_hashes(base: str) -> list[str]:
    """``base`` with characters that mean something in a URL swapped in after its header (any
    character of the alphabet is valid there), and one with ``/``, which is not in it."""
    head = base[:6]  # size flag, AC scale and the average colour stay as they were
    tails = ("#", "?", "%", "%2F", "#?%", "[]^{|}+:;=@$*,", "..~-_", "/")
    return [head + t + base[6 + len(t) :] for t in tails]


async def test_placeholder_urls_escape_the_hash_and_serve_its_picture(tmp_path: Path) -> None:
    hashes = crafted_hashes(process_image(png((30, 160, 90))).blurhash)
    valid = [h for h in hashes if is_valid(h)]
    assert len(valid) == len(hashes) - 1
    async with (
        live_server(tmp_path) as server,
        remote_server(("painter",)) as remote,
        Browserish(server.base_url) as web,
    ):
        note = remote.note(
            "painter",
            "<p>odd hashes</p>",
            to=[PUBLIC],
            attachment=[
                {
                    "type": "Document",
                    "mediaType": "image/png",
                    "url": f"{remote.base_url}/media/{i}.png",
                    "blurhash": h,
                }
                for i, h in enumerate(hashes)
            ],
        )
        resp = await remote.send(server.shared_inbox, remote.activity("painter", "Create", note))
        assert resp.status_code == 202
        await server.drain()
        note_id = await server.count("SELECT id FROM notes WHERE uri = ?", [note["id"]])
        page = (await web.get(f"/notes/{note_id}")).text
        # The files are not there, so none is cached: each shows its placeholder in its place,
        # one per valid hash, in order; the hash with "/" gets the neutral one.
        sources = re.findall(r'class="pending" src="(/blurhash/[^"]+)"', page)
        assert [unquote(s.removeprefix("/blurhash/").removesuffix(".png")) for s in sources] == (
            valid
        )
        for source, value in zip(sources, valid, strict=True):
            assert _ESCAPED_PATH.match(source), source
            served = await web.get(source)
            assert served.status_code == 200, source
            assert served.headers["content-type"] == "image/png"
            assert served.content == placeholder_png(value)


@pytest.mark.parametrize(
    "path",
    [
        "/blurhash/not-a-hash.png",
        "/blurhash/LEHV6nWB2yk8pyo0adR*.ay%2Fj%5Bj%5B.png",  # a "/" in it: not the alphabet
        "/blurhash/LEHV6nWB2yk8pyo0adR*.ay%C3%A9%5Bj%5B.png",  # non-ASCII
        "/blurhash/LEHV6nWB2yk8pyo0adR*.ay%00%5Bj%5B.png",  # NUL
        "/blurhash/LEHV6nWB2yk8pyo0adR*.ayj%5Bj%5Bjj.png",  # length does not fit the header
        "/blurhash/" + "~" + "0" * 165 + ".png",  # 9x9 components: longer than the cap
        "/blurhash/" + "x" * 5000 + ".png",
        "/blurhash/%25.png",
    ],
)
async def test_anything_but_a_blurhash_is_a_clean_404(tmp_path: Path, path: str) -> None:
    async with live_server(tmp_path) as server, Browserish(server.base_url) as web:
        resp = await web.get(path)
        assert resp.status_code == 404, path
        assert "not a blurhash" in resp.text or "Not found" in resp.text


async def test_a_repeated_value_is_decoded_once(tmp_path: Path) -> None:
    value = process_image(png((250, 20, 200))).blurhash
    placeholder_png.cache_clear()
    async with live_server(tmp_path) as server, Browserish(server.base_url) as web:
        for _ in range(5):
            resp = await web.get(f"/blurhash/{value}.png")
            assert resp.status_code == 200
    info = placeholder_png.cache_info()
    assert (info.misses, info.hits) == (1, 4)


def test_the_placeholder_matches_the_reference_decoder() -> None:
    """blurhash-python's decoder, pixel for pixel (one level of rounding either way), for
    every shape the length cap lets through."""
    rng = random.Random(11)
    checked = 0
    for nx in range(1, 10):
        for ny in range(1, 10):
            if 4 + 2 * nx * ny > 90:
                continue
            flag = _ALPHABET[(nx - 1) + (ny - 1) * 9]
            value = flag + "".join(rng.choice(_ALPHABET) for _ in range(3 + 2 * nx * ny))
            assert is_valid(value)
            want = reference.decode(value, 32, 32).convert("RGB").tobytes()
            with Image.open(io.BytesIO(placeholder_png(value))) as img:
                got = img.convert("RGB").tobytes()
            assert max(abs(a - b) for a, b in zip(want, got, strict=True)) <= 1, value
            checked += 1
    assert checked > 40
