"""``POST /api/v1/reports``: Mastodon's Report entity back, the report on the admin page's list,
and with ``forward`` a Flag to the remote account's server."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
from support.live import live_server
from support.remote import PUBLIC, remote_server

from fediverse_ai.federation import moderation
from fediverse_ai.storage import reactions

from .support import user_token
from .test_api_streaming import Ws
from .test_api_uploads import bearer


async def test_a_report_through_the_api_is_stored_and_forwarded(tmp_path: Path) -> None:
    async with live_server(tmp_path / "ours") as server, remote_server() as remote:
        _, alice = await user_token(server, "alice")
        note = remote.note("bob", "<p>rude words</p>", to=[PUBLIC])
        await remote.send(server.shared_inbox, remote.activity("bob", "Create", note))
        await server.drain()
        async with httpx.AsyncClient(base_url=server.base_url, timeout=20) as http:
            found = await http.get(
                "/api/v2/search",
                params={"q": note["id"], "resolve": "true"},
                headers=bearer(alice),
            )
            (status,) = found.json()["statuses"]
            account_id = status["account"]["id"]
            resp = await http.post(
                "/api/v1/reports",
                json={
                    "account_id": account_id,
                    "status_ids": [status["id"]],
                    "comment": "not nice",
                    "forward": True,
                    "category": "violation",
                },
                headers=bearer(alice),
            )
            assert resp.status_code == 200, resp.text
            report = resp.json()
            assert report["comment"] == "not nice" and report["forwarded"] is True
            assert report["status_ids"] == [status["id"]] and report["action_taken"] is False
            assert report["target_account"]["id"] == account_id
            assert report["category"] == "violation" and report["created_at"].endswith("Z")
            await server.drain()
            (flag,) = remote.posts(type="Flag")
            assert flag.verified and flag.activity is not None
            assert flag.activity["object"] == [remote.actor_uri("bob"), note["id"]]
            (stored,) = await reactions.list_reports(server.state.db, include_resolved=False)
            assert stored.local and stored.target_uri == remote.actor_uri("bob")
            # Without forward, nothing leaves; a form-encoded body works as well
            plain = await http.post(
                "/api/v1/reports", data={"account_id": account_id}, headers=bearer(alice)
            )
            assert plain.status_code == 200 and plain.json()["forwarded"] is False
            await server.drain()
            assert len(remote.posts(type="Flag")) == 1
            # Bad input gets a 4xx
            me = (
                await http.get("/api/v1/accounts/verify_credentials", headers=bearer(alice))
            ).json()["id"]
            for body, code in (
                ({"account_id": me}, 422),
                ({"account_id": "999999"}, 404),
                ({"account_id": account_id, "status_ids": ["999999"]}, 404),
                ({"account_id": account_id, "category": "nonsense"}, 422),
                ({"account_id": account_id, "comment": "x" * 1001}, 422),
                ({}, 404),
            ):
                bad = await http.post("/api/v1/reports", json=body, headers=bearer(alice))
                assert bad.status_code == code, (body, bad.text)
            anonymous = await http.post("/api/v1/reports", json={"account_id": account_id})
            assert anonymous.status_code == 401


async def test_a_muted_account_leaves_the_thread_context_as_on_the_web(tmp_path: Path) -> None:
    async with live_server(tmp_path) as server:
        _, alice = await user_token(server, "alice")
        _, bob = await user_token(server, "bob")
        async with httpx.AsyncClient(base_url=server.base_url, timeout=20) as http:
            top = await http.post(
                "/api/v1/statuses", data={"status": "a question"}, headers=bearer(alice)
            )
            top_id = top.json()["id"]
            answer = await http.post(
                "/api/v1/statuses",
                data={"status": "an answer", "in_reply_to_id": top_id},
                headers=bearer(bob),
            )
            bob_id = answer.json()["account"]["id"]

            async def replies() -> list[str]:
                found = await http.get(f"/api/v1/statuses/{top_id}/context", headers=bearer(alice))
                return [s["id"] for s in found.json()["descendants"]]

            assert await replies() == [answer.json()["id"]]
            await http.post(f"/api/v1/accounts/{bob_id}/mute", headers=bearer(alice))
            assert await replies() == []


async def test_a_silenced_account_is_not_on_the_public_stream(tmp_path: Path) -> None:
    async with live_server(tmp_path) as server:
        _, alice = await user_token(server, "alice")
        _, bob = await user_token(server, "bob")
        await moderation.silence(server.state, (await server.account("alice")).actor)
        public = await Ws.open(server, f"?stream=public&access_token={bob}")
        try:
            async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as http:
                for token, text in ((alice, "from the silenced"), (bob, "from bob")):
                    resp = await http.post(
                        "/api/v1/statuses", data={"status": text}, headers=bearer(token)
                    )
                    assert resp.status_code == 200, resp.text
            (first,) = await public.frames(1)  # Alice's post never came: Bob's is the first
            assert json.loads(first["payload"])["content"] == "<p>from bob</p>"
        finally:
            await public.close()
