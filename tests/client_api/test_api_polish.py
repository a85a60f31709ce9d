"""Small defects a user of a real server notices: a follow that could never be delivered."""

from __future__ import annotations

from pathlib import Path

import httpx
from support.live import live_server
from support.remote import remote_server
from web.support import Browserish, make_user

from .support import user_token
from .test_api_uploads import bearer


async def test_following_an_actor_without_an_inbox_is_refused_and_queues_nothing(
    tmp_path: Path,
) -> None:
    async with live_server(tmp_path / "ours") as server, remote_server() as remote:
        _, alice = await user_token(server, "alice")
        async with httpx.AsyncClient(base_url=server.base_url, timeout=20) as http:
            found = await http.get(
                "/api/v2/search",
                params={"q": remote.handle("bob"), "resolve": "true"},
                headers=bearer(alice),
            )
            bob_id = found.json()["accounts"][0]["id"]
            # Given a remote account row that lost its inbox (an old row, a partial import)
            await server.state.db.execute(
                "UPDATE actors SET inbox = NULL, shared_inbox = NULL WHERE uri = ?",
                (remote.actor_uri("bob"),),
            )
            jobs_before = await server.count("SELECT COUNT(*) FROM jobs")
            # When Alice follows it through the client API
            resp = await http.post(f"/api/v1/accounts/{bob_id}/follow", headers=bearer(alice))
            # Then Mastodon's validation error comes back, and nothing is stored or queued
            assert resp.status_code == 422
            assert resp.json() == {
                "error": "Validation failed: this account has no inbox and cannot be followed"
            }
            assert await server.count("SELECT COUNT(*) FROM follows") == 0
            assert await server.count("SELECT COUNT(*) FROM jobs") == jobs_before
        # And the web form says so on its page
        await make_user(server, "alice")
        async with Browserish(server.base_url) as web:
            await web.login("alice")
            page = await web.submit("/home", "/follow", {"target": remote.handle("bob")})
            assert page.status_code == 422
            assert "this account has no inbox and cannot be followed" in page.text
        assert await server.count("SELECT COUNT(*) FROM follows") == 0
        assert await server.count("SELECT COUNT(*) FROM jobs") == jobs_before
        await server.drain()
        assert remote.posts(type="Follow") == []
