"""Polls and quotes in the client API: a poll posted and voted on through Mastodon.py (Poll
entity with counts, ``voted`` and ``own_votes``), the refusals, and a quote post shown with
Mastodon 4.5's ``quote`` (the quoted status whole, its own quote by id only)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from mastodon import MastodonAPIError, MastodonNotFoundError
from support.live import live_server

from .support import mastodon_users, user_token
from .test_api_edits import png
from .test_mastodon_py import call


async def test_a_poll_from_post_to_votes(tmp_path: Path) -> None:
    async with live_server(tmp_path) as server:
        (alice, alice_token), (bob, bob_token) = await mastodon_users(server, "alice", "bob")
        poll = await call(alice.make_poll, ["tea", "coffee", "water"], expires_in=3600)
        posted = await call(alice.status_post, "Which one?", poll=poll)
        assert [o["title"] for o in posted["poll"]["options"]] == ["tea", "coffee", "water"]
        assert posted["poll"]["expired"] is False and posted["poll"]["voted"] is False
        voted = await call(bob.poll_vote, posted["poll"]["id"], [1])
        assert voted["voted"] is True and voted["own_votes"] == [1]
        assert [o["votes_count"] for o in voted["options"]] == [0, 1, 0]
        assert voted["votes_count"] == 1
        seen = await call(alice.poll, posted["poll"]["id"])
        assert seen["voted"] is False and seen["options"][1]["votes_count"] == 1
        shown = await call(bob.status, posted["id"])
        assert shown["poll"]["own_votes"] == [1]

        picture = await call(alice.media_post, png((0, 90, 0)), mime_type="image/png")
        with pytest.raises(MastodonAPIError) as both:
            await call(
                alice.status_update,
                posted["id"],
                "Which one?",
                media_ids=[picture],
                poll=alice.make_poll(["a", "b"], expires_in=3600),
            )
        assert both.value.args[1] == 422
        with pytest.raises(MastodonAPIError) as again:
            await call(bob.poll_vote, posted["poll"]["id"], [0])
        assert again.value.args[1] == 422
        with pytest.raises(MastodonAPIError) as own:
            await call(alice.poll_vote, posted["poll"]["id"], [0])
        assert own.value.args[1] == 422
        plain = await call(alice.status_post, "no poll here")
        with pytest.raises(MastodonNotFoundError):
            await call(bob.poll_vote, plain["id"], [0])
        with pytest.raises(MastodonNotFoundError):
            await call(bob.poll, "99999999")
        async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as http:
            auth = {"Authorization": f"Bearer {alice_token}"}
            vote_path = f"/api/v1/polls/{posted['poll']['id']}/votes"
            for choices in ({"choices[]": "nine"}, {"choices[]": "7"}, {}):
                bad = await http.post(
                    vote_path, data=choices, headers={"Authorization": f"Bearer {bob_token}"}
                )
                assert bad.status_code == 422, bad.text
            for form in (
                {"poll[options][]": ["only one"], "poll[expires_in]": "3600"},
                {"poll[options][]": ["a", "b"], "poll[expires_in]": "soon"},
                {"poll[options][]": ["a", "b"], "poll[expires_in]": "60"},
            ):
                refused = await http.post(
                    "/api/v1/statuses", data={"status": "poll?", **form}, headers=auth
                )
                assert refused.status_code == 422, refused.text
            instance = (await http.get("/api/v2/instance")).json()
            assert instance["configuration"]["polls"]["max_options"] == 4


async def test_a_quote_post_shows_what_it_quotes(tmp_path: Path) -> None:
    async with live_server(tmp_path) as server:
        _, alice_token = await user_token(server, "alice")
        _, bob_token = await user_token(server, "bob")
        async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as http:
            alice = {"Authorization": f"Bearer {alice_token}"}
            bob = {"Authorization": f"Bearer {bob_token}"}
            first = (
                await http.post("/api/v1/statuses", data={"status": "original"}, headers=alice)
            ).json()
            assert first["quote"] is None
            quoting = await http.post(
                "/api/v1/statuses",
                data={"status": "look at this", "quoted_status_id": first["id"]},
                headers=bob,
            )
            assert quoting.status_code == 200, quoting.text
            doc = quoting.json()
            assert doc["quote"]["state"] == "accepted"
            assert doc["quote"]["quoted_status"]["id"] == first["id"]
            deeper = await http.post(
                "/api/v1/statuses",
                data={"status": "and this", "quoted_status_id": doc["id"]},
                headers=alice,
            )
            inner = deeper.json()["quote"]["quoted_status"]
            assert inner["id"] == doc["id"]
            assert inner["quote"] == {"state": "accepted", "quoted_status_id": first["id"]}
            missing = await http.post(
                "/api/v1/statuses",
                data={"status": "x", "quoted_status_id": "99999999"},
                headers=bob,
            )
            assert missing.status_code == 422
