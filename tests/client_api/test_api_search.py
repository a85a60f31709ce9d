"""``/api/v2/search``: statuses by URL (resolved through the signed, SSRF-guarded fetch),
accounts by profile URL, hashtags by prefix; what the viewer may not see stays hidden."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
from support.live import live_server
from support.remote import PUBLIC, remote_server

from .support import user_token
from .test_api_uploads import bearer


async def test_statuses_accounts_and_hashtags(tmp_path: Path) -> None:
    async with live_server(tmp_path / "ours") as server, remote_server() as remote:
        _, alice = await user_token(server, "alice")
        _, bob = await user_token(server, "bob")
        public = remote.note("bob", "<p>findable</p>", to=[PUBLIC])
        hidden = remote.note("bob", "<p>followers only</p>", to=[remote.followers("bob")], cc=[])
        async with httpx.AsyncClient(base_url=server.base_url, timeout=20) as http:

            async def search(q: str, token: str = alice, **extra: str) -> Any:
                resp = await http.get(
                    "/api/v2/search", params={"q": q, **extra}, headers=bearer(token)
                )
                assert resp.status_code == 200, resp.text
                return resp.json()

            # A remote status by URL: unknown without resolve, fetched and stored with it
            assert (await search(public["id"]))["statuses"] == []
            found = await search(public["id"], resolve="true")
            (status,) = found["statuses"]
            assert status["uri"] == public["id"] and status["content"] == "<p>findable</p>"
            assert status["account"]["acct"] == f"bob@{remote.authority}"
            assert (await search(public["id"]))["statuses"][0]["id"] == status["id"]
            # A followers-only one is stored but not shown to a non-follower
            assert (await search(hidden["id"], resolve="true"))["statuses"] == []
            # An account by its profile URL
            by_url = await search(remote.actor_uri("bob"), resolve="true", type="accounts")
            assert [a["acct"] for a in by_url["accounts"]] == [f"bob@{remote.authority}"]
            assert by_url["statuses"] == [] and by_url["hashtags"] == []
            # Local statuses by id or page URL, as their viewers may see them
            mine = (
                await http.post(
                    "/api/v1/statuses",
                    data={"status": "about #Gardening and #garden"},
                    headers=bearer(alice),
                )
            ).json()
            secret = (
                await http.post(
                    "/api/v1/statuses",
                    data={"status": "only me", "visibility": "direct"},
                    headers=bearer(alice),
                )
            ).json()
            for address in (mine["uri"], mine["url"]):
                assert [s["id"] for s in (await search(address, bob))["statuses"]] == [mine["id"]]
            assert (await search(secret["uri"], bob, resolve="true"))["statuses"] == []
            # Hashtags by prefix, with or without '#'; wildcards are literal
            tags = await search("#gard", type="hashtags")
            assert sorted(t["name"] for t in tags["hashtags"]) == ["garden", "gardening"]
            assert tags["hashtags"][0]["url"].startswith(server.base_url + "/tags/")
            assert (await search("g%"))["hashtags"] == []
            assert (await search("g_rden"))["hashtags"] == []


async def test_resolving_never_reaches_private_addresses(tmp_path: Path) -> None:
    async with (
        live_server(tmp_path / "ours", allow_private=False) as server,
        remote_server() as canary,
    ):
        _, alice = await user_token(server, "alice")
        note = canary.note("bob", "<p>on loopback</p>", to=[PUBLIC])
        async with httpx.AsyncClient(base_url=server.base_url, timeout=20) as http:
            for q in (note["id"], canary.actor_uri("bob"), "http://127.0.0.1:1/x"):
                resp = await http.get(
                    "/api/v2/search", params={"q": q, "resolve": "true"}, headers=bearer(alice)
                )
                assert resp.status_code == 200, resp.text
                assert resp.json() == {"accounts": [], "statuses": [], "hashtags": []}
        assert canary.fetched == []
