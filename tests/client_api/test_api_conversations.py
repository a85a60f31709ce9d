"""Conversations through Mastodon.py: direct messages grouped by thread, unread until read,
hidden by DELETE until a newer message; others' and unknown conversations are 404."""

from __future__ import annotations

from pathlib import Path

import httpx
from mastodon import Mastodon
from support.live import live_server

from .support import user_token
from .test_mastodon_py import call


async def test_direct_messages_as_conversations(tmp_path: Path) -> None:
    async with live_server(tmp_path) as server:
        tokens = {n: (await user_token(server, n))[1] for n in ("alice", "bob", "carol")}
        alice, bob, carol = (
            Mastodon(access_token=tokens[n], api_base_url=server.base_url)
            for n in ("alice", "bob", "carol")
        )
        hello = await call(alice.status_post, "@bob hello", visibility="direct")
        await call(alice.status_post, "a public post @bob")  # not a conversation
        answer = await call(bob.status_reply, hello, "hi alice", visibility="direct")
        other = await call(carol.status_post, "@bob psst", visibility="direct")

        listed = await call(bob.conversations)
        assert [c["last_status"]["id"] for c in listed] == [other["id"], answer["id"]]
        # Bob wrote the last message of Alice's thread: it is read; Carol's is not
        assert [c["unread"] for c in listed] == [True, False]
        assert [a["acct"] for a in listed[1]["accounts"]] == ["alice"]
        assert listed[1]["id"] == str(hello["id"])
        for_alice = await call(alice.conversations)
        assert [(c["id"], c["unread"]) for c in for_alice] == [(str(hello["id"]), True)]
        read = await call(alice.conversations_read, for_alice[0]["id"])
        assert read["unread"] is False
        page = await call(bob.conversations, limit=1)
        assert [c["last_status"]["id"] for c in page] == [other["id"]]
        assert [c["id"] for c in await call(bob.fetch_next, page)] == [str(hello["id"])]

        async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as http:
            auth = {"Authorization": f"Bearer {tokens['bob']}"}
            hidden = await http.delete(f"/api/v1/conversations/{other['id']}", headers=auth)
            assert hidden.status_code == 200 and hidden.json() == {}
            ids = [c["id"] for c in (await http.get("/api/v1/conversations", headers=auth)).json()]
            assert ids == [str(hello["id"])]
            # A new message brings the hidden conversation back, unread
            again = await call(carol.status_reply, other, "still there?", visibility="direct")
            back = (await http.get("/api/v1/conversations", headers=auth)).json()
            assert (back[0]["last_status"]["id"], back[0]["unread"]) == (again["id"], True)
            # Alice is not in Carol's conversation; nonsense ids name nothing
            alice_auth = {"Authorization": f"Bearer {tokens['alice']}"}
            for path in (f"{other['id']}/read", "nonsense/read", "99999999/read"):
                resp = await http.post(f"/api/v1/conversations/{path}", headers=alice_auth)
                assert resp.status_code == 404
            assert (await http.get("/api/v1/conversations")).status_code == 401
