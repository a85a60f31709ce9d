"""Three local accounts using the API: follows, favourites, reblogs in the home timeline,
notifications with pagination, dismiss and clear, relationships, deletion."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
from support.live import live_server

from .support import user_token


class As:
    """One user's API calls."""

    def __init__(self, http: httpx.AsyncClient, token: str) -> None:
        self.http = http
        self.headers = {"Authorization": f"Bearer {token}"}

    async def get(self, path: str) -> Any:
        resp = await self.http.get(path, headers=self.headers)
        assert resp.status_code == 200, (path, resp.text)
        return resp.json()

    async def post(self, path: str, **data: str) -> Any:
        resp = await self.http.post(path, data=data, headers=self.headers)
        assert resp.status_code == 200, (path, resp.text)
        return resp.json()


async def test_follows_reblogs_notifications_and_deletion(tmp_path: Path) -> None:
    async with live_server(tmp_path) as server:
        tokens = {name: (await user_token(server, name))[1] for name in ("alice", "bob", "carol")}
        async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as http:
            alice, bob, carol = (As(http, tokens[n]) for n in ("alice", "bob", "carol"))
            me = {
                n: (await u.get("/api/v1/accounts/verify_credentials"))["id"]
                for n, u in (("alice", alice), ("bob", bob), ("carol", carol))
            }
            relation = await alice.post(f"/api/v1/accounts/{me['bob']}/follow")
            assert relation["following"] is True and relation["id"] == me["bob"]
            found = await http.get("/api/v1/accounts/lookup?acct=bob")
            assert found.json()["id"] == me["bob"] and found.json()["followers_count"] == 1

            carols = await carol.post("/api/v1/statuses", status="carol speaks")
            hidden = await carol.post("/api/v1/statuses", status="for fans", visibility="private")
            assert hidden["visibility"] == "private"  # Mastodon's word for followers-only
            unknown = await http.get(f"/api/v1/statuses/{hidden['id']}", headers=alice.headers)
            assert unknown.status_code == 404  # alice does not follow carol
            bobs = await bob.post("/api/v1/statuses", status="bob speaks", spoiler_text="cw")
            assert bobs["sensitive"] is True and bobs["spoiler_text"] == "cw"
            wrapper = await bob.post(f"/api/v1/statuses/{carols['id']}/reblog")
            assert wrapper["reblog"]["id"] == carols["id"] and wrapper["id"] != carols["id"]
            assert wrapper["account"]["id"] == me["bob"] and wrapper["reblogged"] is True

            home = await alice.get("/api/v1/timelines/home")
            assert [s["id"] for s in home] == [wrapper["id"], bobs["id"]]
            assert home[0]["reblog"]["account"]["acct"] == "carol"
            shown = await alice.get(f"/api/v1/statuses/{wrapper['id']}")
            assert shown["reblog"]["content"] == "<p>carol speaks</p>"

            liked = await alice.post(f"/api/v1/statuses/{bobs['id']}/favourite")
            assert liked["favourited"] is True
            await alice.post(f"/api/v1/statuses/{bobs['id']}/reblog")
            fans = await bob.get(f"/api/v1/statuses/{bobs['id']}/favourited_by")
            assert [a["id"] for a in fans] == [me["alice"]]
            reply = await alice.post(
                "/api/v1/statuses", status="@bob nice", in_reply_to_id=bobs["id"]
            )
            assert reply["in_reply_to_account_id"] == me["bob"]

            kinds = [n["type"] for n in await bob.get("/api/v1/notifications")]
            assert kinds == ["mention", "reblog", "favourite", "follow"]
            first = await http.get("/api/v1/notifications?limit=2", headers=bob.headers)
            assert [n["type"] for n in first.json()] == ["mention", "reblog"]
            older = first.headers["Link"].split(";")[0].strip("<>")
            rest = (await http.get(older, headers=bob.headers)).json()
            assert [n["type"] for n in rest] == ["favourite", "follow"]
            newer = await bob.get(f"/api/v1/notifications?min_id={rest[0]['id']}&limit=1")
            assert [n["type"] for n in newer] == ["reblog"]
            one = await bob.get(f"/api/v1/notifications/{rest[0]['id']}")
            assert one["type"] == "favourite" and one["account"]["id"] == me["alice"]
            await bob.post(f"/api/v1/notifications/{rest[0]['id']}/dismiss")
            kinds = [n["type"] for n in await bob.get("/api/v1/notifications")]
            assert kinds == ["mention", "reblog", "follow"]
            await bob.post("/api/v1/notifications/clear")
            assert await bob.get("/api/v1/notifications") == []

            rel = await bob.get(f"/api/v1/accounts/relationships?id[]={me['alice']}")
            assert rel[0]["followed_by"] is True and rel[0]["following"] is False
            undone = await alice.post(f"/api/v1/statuses/{bobs['id']}/unreblog")
            assert undone["reblogged"] is False
            theirs = await http.delete(f"/api/v1/statuses/{bobs['id']}", headers=alice.headers)
            assert theirs.status_code == 404
            gone = await http.delete(f"/api/v1/statuses/{bobs['id']}", headers=bob.headers)
            assert gone.status_code == 200 and gone.json()["text"] == "bob speaks"
            after = await http.get(f"/api/v1/statuses/{bobs['id']}", headers=bob.headers)
            assert after.status_code == 404
            statuses = await bob.get(f"/api/v1/accounts/{me['bob']}/statuses")
            assert statuses == []
            following = await alice.get(f"/api/v1/accounts/{me['alice']}/following")
            assert [a["acct"] for a in following] == ["bob"]
