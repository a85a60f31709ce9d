"""Editing a status's attachments and poll from an app (Mastodon.py's ``status_update`` with
``media_attributes`` and ``poll``, and the form-encoded ``media_attributes[][…]``): the alt
text changes with the old one kept in the history, the poll's votes survive an edit that
keeps its options and are reset by one that changes them, and the ``Update`` a follower on
the peer receives carries the new attachments and poll."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
from support.live import LiveServer, live_server
from support.remote import RemoteFediverse, remote_server

from fediverse_ai.storage import polls

from .support import mastodon_users
from .test_api_edits import png
from .test_api_stream_events import deliver
from .test_mastodon_py import call


async def followed_by_peer(server: LiveServer, remote: RemoteFediverse) -> None:
    alice = (await server.account("alice")).actor.uri
    await deliver(server, remote, remote.activity("dana", "Follow", alice))


def updates(remote: RemoteFediverse, note_uri: str) -> list[dict[str, Any]]:
    """The objects of the edits' ``Update``s of ``note_uri`` the peer received, oldest first
    (a poll's results go out as Updates too, with ids ``…#updates/…``: not edits)."""
    found = []
    for post in remote.posts(type="Update"):
        assert post.verified, post.error
        activity = post.activity or {}
        obj = activity.get("object", {})
        if isinstance(obj, dict) and obj.get("id") == note_uri and "#" not in activity["id"]:
            found.append(obj)
    return found


async def test_alt_text_and_attachments_change_on_edit(tmp_path: Path) -> None:
    async with (
        remote_server(("dana",)) as remote,
        live_server(tmp_path / "ours") as server,
    ):
        ((alice, token),) = await mastodon_users(server, "alice")
        await followed_by_peer(server, remote)
        red = await call(
            alice.media_post, png((200, 0, 0)), mime_type="image/png", description="red"
        )
        first = await call(alice.status_post, "a picture", media_ids=[red])
        # When the alt text and focus are changed with the edit (Mastodon.py sends JSON)
        change = alice.generate_media_edit_attributes(
            red["id"], description="a red square", focus=(0.5, -0.5)
        )
        edited = await call(
            alice.status_update, first["id"], "a picture", media_attributes=[change]
        )
        (shown,) = edited["media_attachments"]
        assert shown["description"] == "a red square"
        assert shown["meta"]["focus"] == {"x": 0.5, "y": -0.5}
        # Then the history keeps the alt text it replaced
        history = await call(alice.status_history, first["id"])
        assert [h["media_attachments"][0]["description"] for h in history] == [
            "red",
            "a red square",
        ]
        # And a form-encoded edit adds a picture in front and describes it
        blue = await call(alice.media_post, png((0, 0, 200)), mime_type="image/png")
        async with httpx.AsyncClient(base_url=server.base_url, timeout=20) as http:
            resp = await http.put(
                f"/api/v1/statuses/{first['id']}",
                data={
                    "status": "two pictures",
                    "media_ids[]": [str(blue["id"]), str(red["id"])],
                    "media_attributes[][id]": str(blue["id"]),
                    "media_attributes[][description]": "a blue square",
                },
                headers={"Authorization": f"Bearer {token}"},
            )
            assert resp.status_code == 200, resp.text
            assert [(m["id"], m["description"]) for m in resp.json()["media_attachments"]] == [
                (str(blue["id"]), "a blue square"),
                (str(red["id"]), "a red square"),
            ]
            # An attribute of a picture the status does not have is refused
            stray = await http.put(
                f"/api/v1/statuses/{first['id']}",
                json={"status": "x", "media_attributes": [{"id": "999999", "description": "?"}]},
                headers={"Authorization": f"Bearer {token}"},
            )
            assert stray.status_code == 422, stray.text
        # And the peer's follower got Updates carrying the pictures with their alt text
        await server.drain()
        sent = updates(remote, first["uri"])
        assert [[a.get("name") for a in u["attachment"]] for u in sent] == [
            ["a red square"],
            ["a blue square", "a red square"],
        ]
        assert sent[0]["attachment"][0]["focalPoint"] == [0.5, -0.5]


async def test_a_poll_edited_keeps_or_resets_its_votes(tmp_path: Path) -> None:
    async with (
        remote_server(("dana",)) as remote,
        live_server(tmp_path / "ours") as server,
    ):
        (alice, _), (bob, _) = await mastodon_users(server, "alice", "bob")
        await followed_by_peer(server, remote)
        asked = await call(
            alice.status_post, "tea?", poll=alice.make_poll(["tea", "coffee"], expires_in=3600)
        )
        await call(bob.poll_vote, asked["poll"]["id"], [0])
        # When Alice edits the text and the duration, with the same options
        same = await call(
            alice.status_update,
            asked["id"],
            "tea or coffee?",
            poll=alice.make_poll(["tea", "coffee"], expires_in=7200),
        )
        # Then Bob's vote stays, and the poll ends later
        assert [o["votes_count"] for o in same["poll"]["options"]] == [1, 0]
        assert same["poll"]["expires_at"] > asked["poll"]["expires_at"]
        # And the close queued for the old end leaves the poll open
        note_id = int(asked["id"])
        assert await polls.close(server.state.db, note_id, now=time.time() + 3600) is None
        # When the options change
        changed = await call(
            alice.status_update,
            asked["id"],
            "a drink?",
            poll=alice.make_poll(["tea", "coffee", "water"], expires_in=7200, multiple=True),
        )
        # Then every vote is gone, and Bob may vote again
        poll = changed["poll"]
        assert [o["title"] for o in poll["options"]] == ["tea", "coffee", "water"]
        assert [o["votes_count"] for o in poll["options"]] == [0, 0, 0]
        assert poll["multiple"] is True and poll["votes_count"] == 0
        again = await call(bob.poll_vote, poll["id"], [1, 2])
        assert again["voted"] is True and again["votes_count"] == 2
        history = await call(alice.status_history, asked["id"])
        assert [o["title"] for o in history[-1]["poll"]["options"]] == ["tea", "coffee", "water"]
        # And the Updates the peer got carry the poll as it was then
        await server.drain()
        sent = updates(remote, asked["uri"])
        assert [u["type"] for u in sent] == ["Question", "Question"]
        assert [o["name"] for o in sent[0]["oneOf"]] == ["tea", "coffee"]
        assert [o["replies"]["totalItems"] for o in sent[0]["oneOf"]] == [1, 0]
        assert [o["name"] for o in sent[1]["anyOf"]] == ["tea", "coffee", "water"]
        # When an edit leaves the poll out, the poll goes (Mastodon's rule)
        plain = await call(alice.status_update, asked["id"], "never mind")
        assert plain["poll"] is None
        assert await server.count("SELECT count(*) FROM polls WHERE note_id = ?", (note_id,)) == 0
