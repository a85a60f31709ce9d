"""Custom emoji in a real browser (issue 13 item 7): loaded from us, the size of the text.

Given a peer's post declaring ``:blobcat:`` (a 128-pixel PNG on the peer), when the worker has
cached it and Chromium opens the post, then the picture is loaded (under our CSP, from
``/cache/``) and drawn at about the height of the line around it, the undeclared ``:nope:``
stays text, and the browser asks the peer for nothing.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from PIL import Image
from support.live import live_server
from support.remote import PUBLIC, remote_server

from fediverse_ai.storage import notes

from .test_browser import _by, step


async def test_an_emoji_is_drawn_from_our_cache_at_text_size(
    tmp_path: Path, driver: Any, screenshots: Path
) -> None:
    by = _by()
    out = io.BytesIO()
    Image.new("RGBA", (128, 128), (240, 140, 0, 255)).save(out, "PNG")
    async with live_server(tmp_path / "ours") as server, remote_server() as remote:
        remote.files["/e/blobcat.png"] = ("image/png", out.getvalue())
        tag = {
            "type": "Emoji",
            "name": ":blobcat:",
            "icon": {
                "type": "Image",
                "mediaType": "image/png",
                "url": f"{remote.base_url}/e/blobcat.png",
            },
        }
        note = remote.note("alice", "<p>Hello :blobcat: and :nope: friends</p>", tag=[tag])
        create = remote.activity("alice", "Create", note, to=[PUBLIC])
        assert (await remote.send(server.shared_inbox, create)).status_code == 202
        await server.drain()
        stored = await notes.by_uri(server.state.db, str(note["id"]))
        assert stored is not None
        fetched_before = len(remote.fetched)

        def look() -> dict[str, Any]:
            driver.get(f"{server.base_url}/notes/{stored.id}")
            content = driver.find_element(by.CSS_SELECTOR, "article .content")
            img = content.find_element(by.CSS_SELECTOR, "img.emoji")
            driver.save_screenshot(str(screenshots / "50-custom-emoji.png"))
            loaded = driver.execute_script(
                "const i = arguments[0]; return i.complete && i.naturalWidth;", img
            )
            line = driver.execute_script(
                "return parseFloat(getComputedStyle(arguments[0]).fontSize);", content
            )
            return {
                "src": img.get_attribute("src"),
                "natural": loaded,
                "ratio": img.size["height"] / line,
                "text": content.text,
            }

        seen = await step(look)
        assert remote.fetched[fetched_before:] == []

    assert seen["src"].startswith(f"{server.base_url}/cache/")
    assert seen["natural"] == 128
    assert 1.1 <= seen["ratio"] <= 1.3
    assert ":nope:" in seen["text"] and ":blobcat:" not in seen["text"]
