"""Editing a status from an app (Mastodon.py's ``status_update``): the new version shown with
``edited_at``, the old one in ``history``, the typed text in ``source``, an ``update``
notification for whoever boosted it, ``status.update`` on the stream, and the refusals."""

from __future__ import annotations

import io
import json
from pathlib import Path

import httpx
import pytest
from mastodon import MastodonAPIError, MastodonNotFoundError
from PIL import Image
from support.live import live_server
from web.support import Browserish

from .support import mastodon_users, user_token
from .test_api_streaming import Ws
from .test_mastodon_py import call


def png(colour: tuple[int, int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), colour).save(out, "PNG")
    return out.getvalue()


async def test_an_edit_from_mastodon_py(tmp_path: Path) -> None:
    async with live_server(tmp_path) as server:
        (alice, alice_token), (bob, _) = await mastodon_users(server, "alice", "bob")
        red = await call(alice.media_post, png((200, 0, 0)), mime_type="image/png")
        first = await call(alice.status_post, "first try #draft", media_ids=[red])
        assert first["edited_at"] is None
        await call(bob.status_reblog, first["id"])
        stream = await Ws.open(server, f"?stream=user&access_token={alice_token}")
        try:
            # When Alice fixes her post: new text, a content warning, a blue picture
            blue = await call(alice.media_post, png((0, 0, 200)), mime_type="image/png")
            edited = await call(
                alice.status_update,
                first["id"],
                "second try #final",
                spoiler_text="a fix",
                media_ids=[blue],
            )
            (frame,) = await stream.frames(1)
        finally:
            await stream.close()
        assert edited["id"] == first["id"] and edited["edited_at"] is not None
        assert "second try" in edited["content"] and edited["spoiler_text"] == "a fix"
        assert [t["name"] for t in edited["tags"]] == ["final"]
        assert [str(m["id"]) for m in edited["media_attachments"]] == [str(blue["id"])]
        assert frame["event"] == "status.update"
        assert json.loads(frame["payload"])["spoiler_text"] == "a fix"

        # Then the history holds both versions, oldest first, and the source the typed text
        history = await call(bob.status_history, first["id"])
        assert [("first try" in h["content"], h["spoiler_text"]) for h in history] == [
            (True, ""),
            (False, "a fix"),
        ]
        assert [str(m["id"]) for m in history[0]["media_attachments"]] == [str(red["id"])]
        source = await call(alice.status_source, first["id"])
        assert source["text"] == "second try #final" and source["spoiler_text"] == "a fix"
        # And Bob, who boosted it, is told
        updates = await call(bob.notifications, types=["update"])
        assert [(n["type"], n["status"]["id"]) for n in updates] == [("update", first["id"])]
        async with Browserish(server.base_url) as web:  # and so does the web UI
            await web.login("bob")
            page = await web.get("/notifications")
        assert page.status_code == 200 and "edited a post you boosted" in page.text
        # And an edit that leaves media_ids out keeps the picture
        again = await call(alice.status_update, first["id"], "third")
        assert [str(m["id"]) for m in again["media_attachments"]] == [str(blue["id"])]
        assert len(await call(alice.status_history, first["id"])) == 3
        # The red picture's upload went with the edit that dropped it
        gone = await server.count("SELECT count(*) FROM media WHERE id = ?", (int(red["id"]),))
        assert gone == 0

        with pytest.raises(MastodonNotFoundError):
            await call(bob.status_update, first["id"], "not mine")
        with pytest.raises(MastodonNotFoundError):
            await call(bob.status_source, first["id"])
        with pytest.raises(MastodonAPIError) as bad:
            await call(alice.status_update, first["id"], "x" * 20_000)
        assert bad.value.args[1] == 422


async def test_edit_refusals(tmp_path: Path) -> None:
    async with live_server(tmp_path) as server:
        _, token = await user_token(server, "alice")
        _, reader = await user_token(server, "alice", scopes="read", new_user=False)
        async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as http:
            auth = {"Authorization": f"Bearer {token}"}
            posted = (
                await http.post("/api/v1/statuses", data={"status": "hi"}, headers=auth)
            ).json()
            path = f"/api/v1/statuses/{posted['id']}"
            read_only = await http.put(
                path, data={"status": "edited"}, headers={"Authorization": f"Bearer {reader}"}
            )
            assert read_only.status_code == 403
            for body, problem in (
                ({"status": "   "}, "Text can't be blank"),
                ({"status": "ok", "media_ids[]": "12345"}, "not an unattached upload"),
                ({"status": "ok", "language": "not a language"}, "Language"),
                ({"status": "ok", "sensitive": "maybe"}, "sensitive"),
            ):
                resp = await http.put(path, data=body, headers=auth)
                assert resp.status_code == 422 and problem in resp.json()["error"], resp.text
            for unknown in ("/api/v1/statuses/999999", "/api/v1/statuses/nonsense"):
                assert (
                    await http.put(unknown, data={"status": "x"}, headers=auth)
                ).status_code == 404
                assert (await http.get(f"{unknown}/history", headers=auth)).status_code == 404
                assert (await http.get(f"{unknown}/source", headers=auth)).status_code == 404
            history = (await http.get(f"{path}/history")).json()
            assert len(history) == 1 and history[0]["content"] == posted["content"]
