"""Outbound federation end to end: what our actors publish, who receives it, signed and addressed.

Given our server and a remote peer that follows our AI actor, when the AI publishes and
the worker drains, then the peer's inbox receives the Create signed by the AI (the peer
verified it against the key our server serves), addressed as the interop checklist's
table says (§6), and the Note is served at its id. A peer that is down gets the
delivery later, exactly once.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from support.live import LiveServer, live_server
from support.remote import PUBLIC, ReceivedPost, RemoteFediverse

from fediverse_ai.federation.publish import publish_note
from fediverse_ai.models import Draft, Note, Visibility

PUBLIC_SPELLINGS = (b"Public", b"as:Public")


@pytest.fixture
async def live(tmp_path: Path, store: Path | str) -> AsyncIterator[LiveServer]:
    """Our server on each store (``store``: SQLite, then PostgreSQL)."""
    async with live_server(tmp_path / "ours", database=store) as server:
        assert server.state.db.dialect == ("sqlite" if isinstance(store, Path) else "postgresql")
        yield server


@pytest.fixture
async def followed(live: LiveServer, remote: RemoteFediverse) -> RemoteFediverse:
    """alice@remote follows our AI actor (Follow in, Accept out); the inbox log starts empty."""
    follow = remote.activity("alice", "Follow", live.ai.actor.uri)
    response = await remote.send(live.inbox("ai"), follow)
    assert response.status_code == 202, response.text
    await live.drain()
    [accept] = remote.posts(type="Accept")
    assert accept.verified, accept.error
    remote.received.clear()
    return remote


async def publish_and_drain(
    live: LiveServer, text: str, visibility: Visibility, mentions: tuple[str, ...] = ()
) -> Note:
    """The AI actor publishes; then every delivery job runs."""
    draft = Draft(text=text, visibility=visibility, extra_mentions=mentions)
    note = await publish_note(live.state, live.ai, draft)
    await live.drain()
    return note


def only_create(remote: RemoteFediverse) -> ReceivedPost:
    """The one POST the peer got, which must be a Create signed by our AI actor."""
    assert remote.errors == []
    [post] = remote.received
    assert post.type == "Create"
    assert post.verified, post.error
    assert post.activity is not None
    return post


async def test_public_note_reaches_followers_signed_and_is_served_at_its_id(
    live: LiveServer, followed: RemoteFediverse
) -> None:
    ai = live.ai.actor

    note = await publish_and_drain(live, "Hello, fediverse!", "public")

    post = only_create(followed)
    assert post.path == "/inbox"  # the follower's shared inbox
    assert post.signer == ai.uri
    assert post.headers["content-type"] == "application/activity+json"
    create = post.activity
    assert create is not None
    assert create["actor"] == ai.uri
    assert create["to"] == [PUBLIC]
    assert create["cc"] == [ai.followers_url]
    sent_note = create["object"]
    assert sent_note["id"] == note.uri
    assert sent_note["attributedTo"] == ai.uri
    assert (sent_note["to"], sent_note["cc"]) == ([PUBLIC], [ai.followers_url])
    assert "Hello, fediverse!" in sent_note["content"]

    response = await live.get_as2(note.uri)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/activity+json")
    served = response.json()
    assert "https://www.w3.org/ns/activitystreams" in served["@context"]
    assert {k: v for k, v in served.items() if k != "@context"} == sent_note


async def test_direct_note_goes_only_to_the_mentioned_actor(
    live: LiveServer, followed: RemoteFediverse
) -> None:
    """bob is found by WebFinger; alice follows the AI but must not get a direct note."""
    bob = followed.actor_uri("bob")

    note = await publish_and_drain(
        live, "Just between us.", "direct", mentions=(followed.handle("bob"),)
    )

    post = only_create(followed)
    assert post.path == "/users/bob/inbox"  # the personal inbox, not the shared one
    create = post.activity
    assert create is not None
    assert create["to"] == [bob]
    assert create.get("cc", []) == []
    assert (create["object"]["to"], create["object"]["cc"]) == ([bob], [])
    mentions = [t for t in create["object"]["tag"] if t["type"] == "Mention"]
    assert [m["href"] for m in mentions] == [bob]
    assert mentions[0]["name"] == f"@{followed.handle('bob')}"
    for spelling in PUBLIC_SPELLINGS:
        assert spelling not in post.body
    assert (await live.get_as2(note.uri)).status_code == 404


async def test_followers_only_note_is_addressed_to_the_followers_collection(
    live: LiveServer, followed: RemoteFediverse
) -> None:
    actor_doc = (await live.get_as2(live.ai.actor.uri)).json()

    note = await publish_and_drain(live, "Only for my followers.", "followers")

    post = only_create(followed)
    assert post.path == "/inbox"
    create = post.activity
    assert create is not None
    assert create["to"] == [actor_doc["followers"]]  # string-equal, or it degrades to direct
    assert create.get("cc", []) == []
    assert (create["object"]["to"], create["object"]["cc"]) == ([actor_doc["followers"]], [])
    for spelling in PUBLIC_SPELLINGS:
        assert spelling not in post.body
    assert (await live.get_as2(note.uri)).status_code == 404


async def test_delivery_to_a_peer_that_is_down_is_retried_and_arrives_once(
    live: LiveServer, followed: RemoteFediverse
) -> None:
    await followed.stop()

    note = await publish_and_drain(live, "Anyone there?", "public")

    jobs = await live.state.db.fetchall(
        "SELECT id, state, attempts, run_after, last_error FROM jobs WHERE kind = 'deliver'"
        " AND state != 'done'"
    )
    assert len(jobs) == 1
    job = jobs[0]
    assert job["state"] == "pending"
    assert job["attempts"] == 1
    assert job["run_after"] > time.time()
    assert job["last_error"] and "could not connect" in job["last_error"]
    assert await live.drain() == 0  # not due yet
    assert followed.received == []

    await followed.start()  # back on the same port
    await live.state.db.execute(
        "UPDATE jobs SET run_after = ? WHERE id = ?", (time.time(), job["id"])
    )  # time passes
    assert await live.drain() == 1

    post = only_create(followed)
    assert post.activity is not None and post.activity["object"]["id"] == note.uri
    row = await live.state.db.fetchone(
        "SELECT state, last_error FROM jobs WHERE id = ?", (job["id"],)
    )
    assert row is not None and (row["state"], row["last_error"]) == ("done", None)
    assert await live.drain() == 0
    assert len(followed.received) == 1
