"""Activities whose id we have seen: redeliveries change nothing, repetitions count (issue 18).

Given our server and a signed peer on loopback, when the peer follows, unfollows and follows
again with the same Follow id (as Takahē does), or likes, unlikes and likes again, then each
repetition takes effect; and a redelivery of an activity whose effect still stands, or a
late copy of an old Undo, has no effect at all.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from support.live import LiveServer
from support.remote import PUBLIC, RemoteFediverse

from fediverse_ai.federation import publish
from fediverse_ai.models import Draft


async def deliver(live: LiveServer, remote: RemoteFediverse, activity: dict[str, Any]) -> None:
    response = await remote.send(live.shared_inbox, activity)
    assert response.status_code == 202, response.text
    await live.drain()


async def followers(live: LiveServer) -> int:
    return await live.count(
        "SELECT COUNT(*) FROM follows WHERE followee_id = ? AND state = 'accepted'",
        (live.ai.actor.id,),
    )


def accepted_follow_ids(remote: RemoteFediverse) -> list[str]:
    return [str(p.activity["object"]["id"]) for p in remote.posts(type="Accept") if p.activity]


async def test_follow_undo_and_follow_again_with_the_same_id(
    live: LiveServer, remote: RemoteFediverse
) -> None:
    follow = remote.activity("alice", "Follow", live.ai.actor.uri)
    await deliver(live, remote, follow)
    await deliver(live, remote, remote.activity("alice", "Undo", remote.embedded(follow)))
    assert await followers(live) == 0

    await deliver(live, remote, follow)

    assert await followers(live) == 1
    assert accepted_follow_ids(remote) == [follow["id"], follow["id"]]


async def test_a_redelivered_follow_has_one_effect(
    live: LiveServer, remote: RemoteFediverse
) -> None:
    follow = remote.activity("alice", "Follow", live.ai.actor.uri)
    for _ in range(3):
        await deliver(live, remote, follow)

    assert await followers(live) == 1
    assert accepted_follow_ids(remote) == [follow["id"]]


async def test_redeliveries_at_once_after_an_undo_reopen_the_follow_once(
    live: LiveServer, remote: RemoteFediverse
) -> None:
    follow = remote.activity("alice", "Follow", live.ai.actor.uri)
    await deliver(live, remote, follow)
    await deliver(live, remote, remote.activity("alice", "Undo", remote.embedded(follow)))
    jobs_before = await live.count("SELECT COUNT(*) FROM jobs WHERE kind = 'inbox'")

    answers = await asyncio.gather(*(remote.send(live.shared_inbox, follow) for _ in range(5)))
    await live.drain()

    assert [a.status_code for a in answers] == [202] * 5
    assert await live.count("SELECT COUNT(*) FROM jobs WHERE kind = 'inbox'") == jobs_before + 1
    assert accepted_follow_ids(remote) == [follow["id"], follow["id"]]


async def test_an_undo_with_a_reused_id_undoes_the_follow_again(
    live: LiveServer, remote: RemoteFediverse
) -> None:
    follow = remote.activity("alice", "Follow", live.ai.actor.uri)
    undo = remote.activity("alice", "Undo", remote.embedded(follow))
    for activity in (follow, undo, follow, undo):
        await deliver(live, remote, activity)

    assert await followers(live) == 0


async def test_a_late_copy_of_an_old_undo_leaves_a_new_follow_alone(
    live: LiveServer, remote: RemoteFediverse
) -> None:
    first = remote.activity("alice", "Follow", live.ai.actor.uri)
    undo = remote.activity("alice", "Undo", remote.embedded(first))
    second = remote.activity("alice", "Follow", live.ai.actor.uri)
    for activity in (first, undo, second, undo):
        await deliver(live, remote, activity)

    assert await followers(live) == 1


@pytest.mark.parametrize(("kind", "table"), [("Like", "reactions"), ("Announce", "announces")])
async def test_like_and_boost_again_with_the_same_id(
    live: LiveServer, remote: RemoteFediverse, kind: str, table: str
) -> None:
    note = await publish.publish_note(live.state, live.ai, Draft(text="hello"))
    reaction = remote.activity("alice", kind, note.uri, to=[PUBLIC])
    undo = remote.activity("alice", "Undo", remote.embedded(reaction))
    count = f"SELECT COUNT(*) FROM {table} WHERE note_id = ?"

    await deliver(live, remote, reaction)
    await deliver(live, remote, reaction)  # a redelivery
    assert await live.count(count, (note.id,)) == 1
    await deliver(live, remote, undo)
    assert await live.count(count, (note.id,)) == 0

    await deliver(live, remote, reaction)

    assert await live.count(count, (note.id,)) == 1
    raw = await live.state.db.fetchval(
        "SELECT raw_json FROM activities WHERE uri = ?", (reaction["id"],)
    )
    assert json.loads(raw)["id"] == reaction["id"]
