"""Small defects a user of a real server notices: follows that could never be delivered, and
remote accounts counted by what we happen to know instead of what their server says."""

from __future__ import annotations

from pathlib import Path

import httpx
from support.live import live_server
from support.remote import PUBLIC, RemoteFediverse, remote_server
from web.support import Browserish, make_user

from .support import user_token
from .test_api_uploads import bearer


async def resolved_id(http: httpx.AsyncClient, token: str, handle: str) -> str:
    """The client API id of a remote account, looked up (and fetched) as an app searches."""
    found = await http.get(
        "/api/v2/search", params={"q": handle, "resolve": "true"}, headers=bearer(token)
    )
    return str(found.json()["accounts"][0]["id"])


async def test_following_an_actor_without_an_inbox_is_refused_and_queues_nothing(
    tmp_path: Path,
) -> None:
    async with live_server(tmp_path / "ours") as server, remote_server() as remote:
        _, alice = await user_token(server, "alice")
        async with httpx.AsyncClient(base_url=server.base_url, timeout=20) as http:
            bob_id = await resolved_id(http, alice, remote.handle("bob"))
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


def _collection(remote: RemoteFediverse, path: str, total: object) -> dict[str, object]:
    return {"id": f"{remote.base_url}{path}", "type": "OrderedCollection", "totalItems": total}


async def test_a_remote_account_shows_its_servers_totals_or_else_ours(tmp_path: Path) -> None:
    async with live_server(tmp_path / "ours") as server, remote_server() as remote:
        # Given Bob's server publishes his totals, and Alice's server fails or lies about hers
        remote.overrides["/users/bob/followers"] = _collection(remote, "/users/bob/followers", 1234)
        remote.overrides["/users/bob/following"] = _collection(remote, "/users/bob/following", 56)
        remote.overrides["/users/bob/outbox"] = _collection(remote, "/users/bob/outbox", 789)
        remote.statuses["/users/alice/followers"] = 503
        remote.overrides["/users/alice/outbox"] = _collection(remote, "/users/alice/outbox", "9e9")
        remote.overrides["/users/alice/following"] = _collection(
            remote, "/users/alice/following", -5
        )
        _, token = await user_token(server, "carol")
        carol = await server.account("carol")
        await remote.send(server.shared_inbox, remote.activity("alice", "Follow", carol.actor.uri))
        note = remote.note("alice", "<p>hello</p>", to=[PUBLIC])
        await remote.send(server.shared_inbox, remote.activity("alice", "Create", note))
        await server.drain()
        async with httpx.AsyncClient(base_url=server.base_url, timeout=20) as http:
            ids = {n: await resolved_id(http, token, remote.handle(n)) for n in ("bob", "alice")}
            # When the worker has read the collections
            await server.drain()
            # Then the client API and the profile page show Bob's server's numbers
            bob = (await http.get(f"/api/v1/accounts/{ids['bob']}", headers=bearer(token))).json()
            assert (bob["followers_count"], bob["following_count"], bob["statuses_count"]) == (
                1234,
                56,
                789,
            )
            page = (await http.get(f"/@bob@{remote.authority}")).text
            assert "1234" in page and "789" in page
            # And Alice's unreadable totals fall back to what we know (one post, one follow)
            alice = (
                await http.get(f"/api/v1/accounts/{ids['alice']}", headers=bearer(token))
            ).json()
            assert (
                alice["followers_count"],
                alice["following_count"],
                alice["statuses_count"],
            ) == (
                0,
                1,
                1,
            )
            # And another refresh soon after reads nothing again
            fetched = len(remote.fetched)
            await server.state.db.execute("UPDATE actors SET fetched_at = 0")
            await resolved_id(http, token, remote.handle("bob"))
            await server.drain()
            assert not any(p.endswith("/followers") for p in remote.fetched[fetched:])
