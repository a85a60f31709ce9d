"""The resolver answers for the URL it was asked (issue 13 item 10, issue 17 item 1).

Given our server's state and two real peers on loopback, when an actor URL of one peer
redirects to, or serves, another actor's document, then ``fetch_actor`` raises FetchError
instead of handing back someone else, and nothing is cached for the URL asked.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from support.live import LiveServer
from support.remote import RemoteFediverse, remote_server

from fediverse_ai.errors import FetchError
from fediverse_ai.federation import resolver
from fediverse_ai.storage import actors


@pytest.fixture
async def evil() -> AsyncIterator[RemoteFediverse]:
    async with remote_server(("mallory",), host="127.0.0.2") as server:
        yield server


@pytest.fixture
async def victim() -> AsyncIterator[RemoteFediverse]:
    async with remote_server(("bob",)) as server:
        yield server


async def test_an_actor_url_redirecting_to_another_hosts_actor_is_refused(
    live: LiveServer, evil: RemoteFediverse, victim: RemoteFediverse
) -> None:
    evil.redirects["/users/mallory"] = victim.actor_uri("bob")

    with pytest.raises(FetchError, match="another origin"):
        await resolver.fetch_actor(live.state, evil.actor_uri("mallory"))

    assert "/users/bob" not in victim.fetched
    assert await actors.by_uri(live.state.db, victim.actor_uri("bob")) is None


async def test_an_actor_url_serving_another_actor_of_its_host_is_refused_for_effects(
    live: LiveServer, evil: RemoteFediverse
) -> None:
    # /users/mallory answers with another id of the same host: fine for a typed address,
    # never for an id an activity names.
    evil.users["eve"] = evil.users["mallory"]
    evil.overrides["/users/mallory"] = evil.actor_document("eve")

    with pytest.raises(FetchError, match="not the URL asked"):
        await resolver.fetch_actor(live.state, evil.actor_uri("mallory"))
    typed = await resolver.fetch_actor(live.state, evil.actor_uri("mallory"), exact=False)
    assert typed.uri == evil.actor_uri("eve")
