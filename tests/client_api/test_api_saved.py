"""Bookmarks, pins and the favourites list through Mastodon.py, the pins in the actor's
``featured`` collection, and the refusals (others' posts, a sixth pin, direct posts, scopes)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from mastodon import MastodonAPIError, MastodonNotFoundError
from support.live import live_server

from .support import mastodon_users, user_token
from .test_mastodon_py import call


async def test_bookmarks_favourites_and_pins(tmp_path: Path) -> None:
    async with live_server(tmp_path) as server:
        (alice, _), (bob, _) = await mastodon_users(server, "alice", "bob")
        posts = [await call(alice.status_post, f"post {i}") for i in range(7)]

        # Bob bookmarks three posts and likes two; lists page newest-kept first
        for p in posts[:3]:
            marked = await call(bob.status_bookmark, p["id"])
            assert marked["bookmarked"] is True
        await call(bob.status_unbookmark, posts[1]["id"])
        kept = await call(bob.bookmarks, limit=1)
        assert [s["id"] for s in kept] == [posts[2]["id"]]
        older = await call(bob.fetch_next, kept)
        assert [s["id"] for s in older] == [posts[0]["id"]]
        assert (await call(bob.status, posts[1]["id"]))["bookmarked"] is False
        assert (await call(alice.status, posts[0]["id"]))["bookmarked"] is False  # Bob's, not hers
        for p in (posts[3], posts[4]):
            await call(bob.status_favourite, p["id"])
        liked = await call(bob.favourites)
        assert [s["id"] for s in liked] == [posts[4]["id"], posts[3]["id"]]

        # Alice pins two posts: her profile lists them, and so does her featured collection
        for p in (posts[0], posts[5]):
            pinned = await call(alice.status_pin, p["id"])
            assert pinned["pinned"] is True
        me = await call(alice.me)
        listed = await call(bob.account_statuses, me["id"], pinned=True)
        assert [s["id"] for s in listed] == [posts[5]["id"], posts[0]["id"]]
        featured = await server.get_as2(f"{server.base_url}/users/alice/collections/featured")
        doc = featured.json()
        assert doc["type"] == "OrderedCollection" and doc["totalItems"] == 2
        assert [n["id"] for n in doc["orderedItems"]] == [posts[5]["uri"], posts[0]["uri"]]
        assert all(n["type"] == "Note" for n in doc["orderedItems"])
        await call(alice.status_unpin, posts[5]["id"])
        listed = await call(bob.account_statuses, me["id"], pinned=True)
        assert [s["id"] for s in listed] == [posts[0]["id"]]

        # Refusals: another's post, a direct one, a sixth pin, unknown ids
        with pytest.raises(MastodonAPIError) as theirs:
            await call(bob.status_pin, posts[1]["id"])
        assert theirs.value.args[1] == 422
        direct = await call(alice.status_post, "@bob psst", visibility="direct")
        with pytest.raises(MastodonAPIError) as hidden:
            await call(alice.status_pin, direct["id"])
        assert hidden.value.args[1] == 422
        for p in posts[1:5]:
            await call(alice.status_pin, p["id"])
        with pytest.raises(MastodonAPIError) as full:
            await call(alice.status_pin, posts[6]["id"])
        assert full.value.args[1] == 422 and "at most 5" in str(full.value)
        with pytest.raises(MastodonNotFoundError):
            await call(bob.status_bookmark, "999999")
        instance = await call(alice.instance_v2)
        assert instance["configuration"]["accounts"]["max_pinned_statuses"] == 5


async def test_saved_lists_need_their_scopes(tmp_path: Path) -> None:
    async with live_server(tmp_path) as server:
        _, token = await user_token(server, "alice")
        _, reader = await user_token(server, "alice", scopes="read", new_user=False)
        async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as http:
            auth = {"Authorization": f"Bearer {token}"}
            ro = {"Authorization": f"Bearer {reader}"}
            posted = (
                await http.post("/api/v1/statuses", data={"status": "x"}, headers=auth)
            ).json()
            for action in ("bookmark", "pin"):
                path = f"/api/v1/statuses/{posted['id']}/{action}"
                assert (await http.post(path, headers=ro)).status_code == 403
            assert (await http.get("/api/v1/bookmarks", headers=ro)).status_code == 200
            assert (await http.get("/api/v1/bookmarks")).status_code == 401
            assert (await http.get("/api/v1/favourites")).status_code == 401
