"""The images a refused post keeps (issue 20 item 5): pending uploads named by hidden fields,
which only their owner can use, and the Delete confirmation page."""

from __future__ import annotations

import re
from pathlib import Path

from support.live import live_server

from .support import Browserish, make_user
from .test_forms import logged_in
from .test_pages import html_path, png, post


def kept_id(page: str, slot: int = 0) -> str:
    found = re.search(rf'name="kept{slot}" value="(\d+)"', page)
    assert found, "the refused image is not shown again"
    return found[1]


async def test_a_kept_image_is_used_by_its_owner_only(tmp_path: Path) -> None:
    async with live_server(tmp_path) as server:
        alice = await logged_in(server, "alice")
        bob = await logged_in(server, "bob")
        async with alice, bob:
            refused = await alice.submit(
                "/compose",
                "/compose",
                {"text": "the red one", "action": "post"},
                files={"image0": ("red.png", png((255, 0, 0)), "image/png")},
            )
            assert refused.status_code == 400
            assert 'id="alt0-error"' in refused.text and 'aria-invalid="true"' in refused.text
            media_id = kept_id(refused.text)
            # Someone else naming it gets a post without it, and it stays alice's to use.
            stolen = await bob.submit(
                "/compose", "/compose", {"text": "mine now", "kept0": media_id, "alt0": "x"}
            )
            assert stolen.status_code == 303
            for hostile in ("-1", "abc", "1e9", "9" * 40, "²"):
                resp = await bob.submit(
                    "/compose", "/compose", {"text": f"try {hostile}", "kept0": hostile}
                )
                assert resp.status_code == 303, hostile
            assert await server.count("SELECT count(*) FROM media WHERE note_id IS NOT NULL") == 0
            # Its owner only types the description: the image is the one sent the first time.
            posted = await alice.submit(
                "/compose",
                "/compose",
                {"text": "the red one", "kept0": media_id, "alt0": "a red square"},
            )
            assert posted.status_code == 303 and posted.headers["location"].endswith("done=posted")
            rows = await server.count(
                "SELECT count(*) FROM media m JOIN notes n ON n.id = m.note_id"
                " WHERE m.id = ? AND m.description = 'a red square'",
                [int(media_id)],
            )
            assert rows == 1


async def test_a_kept_image_can_be_removed_or_replaced(tmp_path: Path) -> None:
    async with live_server(tmp_path) as server:
        web = await logged_in(server, "alice")
        async with web:
            first = await web.submit(
                "/compose",
                "/compose",
                {"text": "x" * 6000, "alt0": "red", "action": "post"},  # too long a text
                files={"image0": ("red.png", png((255, 0, 0)), "image/png")},
            )
            assert first.status_code == 400 and "red" in first.text
            media_id = kept_id(first.text)
            dropped = await web.submit(
                "/compose", "/compose", {"text": "no picture", "kept0": media_id, "drop0": "1"}
            )
            assert dropped.status_code == 303
            replaced = await web.submit(
                "/compose",
                "/compose",
                {"text": "green instead", "kept0": media_id, "alt0": "green"},
                files={"image0": ("green.png", png((0, 255, 0)), "image/png")},
            )
            assert replaced.status_code == 303
            attached = await server.count(
                "SELECT count(*) FROM media WHERE note_id IS NOT NULL AND id = ?", [int(media_id)]
            )
            assert attached == 0  # neither post used the first picture
            assert await server.count("SELECT count(*) FROM media WHERE note_id IS NOT NULL") == 1


async def test_delete_asks_on_a_page_of_its_own(tmp_path: Path) -> None:
    async with live_server(tmp_path) as server:
        await make_user(server, "bob")
        web = await logged_in(server, "alice")
        mine = await post(server, "alice", "my words")
        theirs = await post(server, "bob", "bob's words")
        async with web:
            page = (await web.get(html_path(server, mine))).text
            link = re.search(r'href="(/notes/(\d+)/delete\?next=[^"]+)"', page)
            assert link and 'action="/notes/' + link[2] + '/delete"' not in page
            confirm = await web.get(link[1].replace("&amp;", "&"))
            assert confirm.status_code == 200 and "Delete this post?" in confirm.text
            assert "my words" in confirm.text
            other = await server.count("SELECT id FROM notes WHERE uri = ?", [theirs])
            assert (await web.get(f"/notes/{other}/delete")).status_code == 404
            assert await server.count("SELECT count(*) FROM notes WHERE uri = ?", [mine]) == 1
            assert 'class="notice"' in (await web.get("/home?done=deleted")).text
        async with Browserish(server.base_url) as visitor:  # a link cannot put words in pages
            assert 'class="notice"' not in (await visitor.get("/?done=deleted")).text
