"""Block and mute: stored, federated for a block (Block, then Undo with the same id), and
honoured by the home and public timelines, notifications and the relationship."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
from support.live import live_server
from support.remote import PUBLIC, remote_server

from .support import user_token
from .test_api_uploads import bearer


async def test_muting_hides_from_home_and_notifications(tmp_path: Path) -> None:
    async with live_server(tmp_path) as server:
        _, alice = await user_token(server, "alice")
        _, bob = await user_token(server, "bob")
        async with httpx.AsyncClient(base_url=server.base_url, timeout=20) as http:

            async def call(method: str, path: str, token: str, **data: str) -> Any:
                resp = await http.request(method, path, data=data or None, headers=bearer(token))
                assert resp.status_code == 200, (path, resp.text)
                return resp.json()

            bob_id = (await call("GET", "/api/v1/accounts/verify_credentials", bob))["id"]
            await call("POST", f"/api/v1/accounts/{bob_id}/follow", alice)
            post = await call("POST", "/api/v1/statuses", bob, status="garden news")
            await call("POST", "/api/v1/statuses", bob, status="@alice look")

            async def home() -> list[str]:
                return [s["content"] for s in await call("GET", "/api/v1/timelines/home", alice)]

            async def mentions() -> int:
                found = await call("GET", "/api/v1/notifications?types[]=mention", alice)
                return len(found)

            assert "<p>garden news</p>" in await home() and await mentions() == 1
            # When Alice mutes Bob
            rel = await call("POST", f"/api/v1/accounts/{bob_id}/mute", alice)
            assert rel["muting"] is True and rel["muting_notifications"] is True
            assert rel["following"] is True  # a mute leaves the follow alone
            # Then his posts leave her home and public timelines, and his mention her
            # notifications, though the page still links onward
            assert await home() == [] and await mentions() == 0
            public = await call("GET", "/api/v1/timelines/public", alice)
            assert post["id"] not in [s["id"] for s in public]
            anonymous = (await http.get("/api/v1/timelines/public")).json()
            assert post["id"] in [s["id"] for s in anonymous]
            muted = await call("GET", "/api/v1/mutes", alice)
            assert [a["id"] for a in muted] == [bob_id]
            # A mute that keeps notifications hides the posts only
            rel = await call(
                "POST", f"/api/v1/accounts/{bob_id}/mute", alice, notifications="false"
            )
            assert rel["muting_notifications"] is False
            assert await home() == [] and await mentions() == 1
            bad = await http.post(
                f"/api/v1/accounts/{bob_id}/mute", data={"duration": "-5"}, headers=bearer(alice)
            )
            assert bad.status_code == 422
            # And unmuting shows him again
            rel = await call("POST", f"/api/v1/accounts/{bob_id}/unmute", alice)
            assert rel["muting"] is False
            assert "<p>garden news</p>" in await home() and await mentions() == 1
            me = (await call("GET", "/api/v1/accounts/verify_credentials", alice))["id"]
            for action in ("mute", "block"):
                own = await http.post(f"/api/v1/accounts/{me}/{action}", headers=bearer(alice))
                assert own.status_code == 422
            missing = await http.post("/api/v1/accounts/999999/block", headers=bearer(alice))
            assert missing.status_code == 404


async def test_blocking_a_remote_account_is_federated_and_ends_follows(tmp_path: Path) -> None:
    async with live_server(tmp_path / "ours") as server, remote_server() as remote:
        _, alice = await user_token(server, "alice")
        account = await server.account("alice")
        await remote.send(server.shared_inbox, remote.activity("bob", "Follow", account.actor.uri))
        note = remote.note("bob", "<p>hello from afar</p>", to=[PUBLIC])
        await remote.send(server.shared_inbox, remote.activity("bob", "Create", note))
        await server.drain()
        async with httpx.AsyncClient(base_url=server.base_url, timeout=20) as http:
            found = await http.get(
                "/api/v2/search",
                params={"q": remote.handle("bob"), "resolve": "true"},
                headers=bearer(alice),
            )
            remote_id = found.json()["accounts"][0]["id"]

            async def federated() -> list[str]:
                resp = await http.get("/api/v1/timelines/public?remote=true", headers=bearer(alice))
                return [s["uri"] for s in resp.json()]

            rel = (
                await http.get(
                    f"/api/v1/accounts/relationships?id[]={remote_id}", headers=bearer(alice)
                )
            ).json()[0]
            assert rel["followed_by"] is True and note["id"] in await federated()
            # When Alice blocks remote Bob
            blocked = await http.post(f"/api/v1/accounts/{remote_id}/block", headers=bearer(alice))
            assert blocked.status_code == 200, blocked.text
            assert blocked.json()["blocking"] is True and blocked.json()["followed_by"] is False
            # Then remote Bob's follow is gone, her posts are hidden, and she is sent a Block
            assert note["id"] not in await federated()
            await server.drain()
            (block,) = remote.posts(type="Block")
            assert block.verified and block.activity is not None
            assert block.activity["object"] == remote.actor_uri("bob")
            listed = (await http.get("/api/v1/blocks", headers=bearer(alice))).json()
            assert [a["id"] for a in listed] == [remote_id]
            # And a new follow from her is refused by the inbox
            await remote.send(
                server.shared_inbox, remote.activity("bob", "Follow", account.actor.uri)
            )
            await server.drain()
            rel = (
                await http.get(
                    f"/api/v1/accounts/relationships?id[]={remote_id}", headers=bearer(alice)
                )
            ).json()[0]
            assert rel["followed_by"] is False and rel["requested_by"] is False
            # When she is unblocked, the Undo names the Block by its id
            undone = await http.post(f"/api/v1/accounts/{remote_id}/unblock", headers=bearer(alice))
            assert undone.json()["blocking"] is False
            await server.drain()
            (undo,) = remote.posts(type="Undo")
            assert undo.activity is not None
            assert undo.activity["object"]["id"] == block.activity["id"]
            assert note["id"] in await federated()
