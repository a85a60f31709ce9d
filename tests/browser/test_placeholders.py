"""Blurhash placeholders in a real browser: hashes whose characters mean something in a URL
(``#`` starts a fragment, ``?`` a query, ``%`` an escape) still load as pictures.

Remote attachments carry whatever blurhash their server sent, so the hashes here are crafted:
a real hash of a picture with characters swapped in (any character of the alphabet is valid
after the first, which gives the size), and one with ``/``, which is outside the alphabet and
must get no placeholder rather than a broken one.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from PIL import Image
from support.live import live_server
from support.remote import PUBLIC, remote_server
from web.test_blurhash import crafted_hashes

from fediverse_ai.blurhash_png import is_valid
from fediverse_ai.federation import publish
from fediverse_ai.media import process_image
from fediverse_ai.models import Draft

from .test_browser import _by, step


def _png(color: tuple[int, int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (120, 80), color).save(out, format="PNG")
    return out.getvalue()


BROKEN_IMAGES = """
const imgs = Array.from(document.querySelectorAll('img'));
return [imgs.length, imgs.filter(i => !i.complete || i.naturalWidth === 0).map(i => i.src),
        imgs.filter(i => i.classList.contains('ph')).length];
"""


async def test_placeholders_with_url_special_characters_load_on_every_page(
    tmp_path: Path, driver: Any, screenshots: Path
) -> None:
    by = _by()
    base = process_image(_png((200, 60, 40))).blurhash
    hashes = crafted_hashes(base)
    valid = [h for h in hashes if is_valid(h)]
    assert len(valid) == len(hashes) - 1 and not is_valid(hashes[-1])
    async with live_server(tmp_path / "ours") as server, remote_server(("painter",)) as remote:
        alice = await server.account("alice")
        photo = process_image(_png((200, 60, 40))).as_attachment("a red picture")
        root = await publish.publish_note(
            server.state, alice, Draft(text="a post with a picture", attachments=(photo,))
        )
        ai_post = await publish.publish_note(
            server.state,
            server.ai,
            Draft(text="a drawing", attachments=(photo,), ai_generated=True),
        )
        # The remote's attachments point at a picture we serve, so every full image can load.
        image_url = await server.state.db.fetchval(
            "SELECT url FROM media WHERE note_id = ?", (root.id,)
        )
        await server.state.db.execute(
            "UPDATE media SET blurhash = ? WHERE note_id = ?", (valid[4], ai_post.id)
        )
        attachments = [
            {
                "type": "Document",
                "mediaType": "image/png",
                "url": image_url,
                "name": f"picture {i}",
                "blurhash": h,
                "width": 120,
                "height": 80,
            }
            for i, h in enumerate(hashes)
        ]
        reply = remote.note(
            "painter",
            "<p>pictures with odd hashes</p>",
            to=[PUBLIC],
            inReplyTo=root.uri,
            attachment=attachments,
        )
        resp = await remote.send(server.shared_inbox, remote.activity("painter", "Create", reply))
        assert resp.status_code == 202
        await server.drain()
        reply_id = await server.count("SELECT id FROM notes WHERE uri = ?", [reply["id"]])
        assert reply_id
        thread = root.url.removeprefix(server.base_url) if root.url else f"/notes/{root.id}"
        pages = [  # (screenshot name, page, placeholders it must show at least)
            ("thread", thread, len(valid)),
            ("reply", f"/notes/{reply_id}", len(valid)),
            ("remote-profile", f"/@painter@{remote.authority}", len(valid)),
            ("remote-media", f"/@painter@{remote.authority}/media", len(valid)),
            ("ai-profile", "/@ai", 1),
            ("gallery", "/gallery", 1),
        ]

        def check(name: str, page: str, placeholders: int) -> None:
            driver.get(f"{server.base_url}{page}")
            # Full images load lazily: bring each into view, then wait for all of them.
            for img in driver.find_elements(by.CSS_SELECTOR, "img"):
                driver.execute_script("arguments[0].scrollIntoView()", img)
            from selenium.webdriver.support.ui import WebDriverWait

            WebDriverWait(driver, 30).until(
                lambda d: all(
                    d.execute_script("return arguments[0].complete", i)
                    for i in d.find_elements(by.CSS_SELECTOR, "img")
                )
            )
            total, broken, shown = driver.execute_script(BROKEN_IMAGES)
            driver.save_screenshot(str(screenshots / f"20-placeholders-{name}.png"))
            assert broken == [], (page, broken)
            assert shown >= placeholders and total > shown, (page, total, shown)

        for name, page, placeholders in pages:
            await step(lambda: check(name, page, placeholders))  # noqa: B023 (awaited at once)
