"""Inbound activities end to end: a peer POSTs signed activities, the worker drains, we look.

Given our server and a remote peer, both real HTTP servers on loopback, when the peer
delivers an activity and the worker drains its jobs, then the database holds what the
interop checklist (§5) says it should, and whatever we send back (Accept) reaches the
peer signed by the right actor, as the peer's own signature check confirms.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from support.live import LiveServer, live_server
from support.remote import PUBLIC, RemoteFediverse

from fediverse_ai.federation import interactions, publish, resolver
from fediverse_ai.federation.trigger import AI_REPLY
from fediverse_ai.models import Draft, Note
from fediverse_ai.storage import actors, jobs, media, notes
from fediverse_ai.worker import DEFAULT_HANDLERS, Worker


@pytest.fixture
async def live(tmp_path: Path, store: Path | str) -> AsyncIterator[LiveServer]:
    """Our server on each store (``store``: SQLite, then PostgreSQL)."""
    async with live_server(tmp_path / "ours", database=store) as server:
        assert server.state.db.dialect == ("sqlite" if isinstance(store, Path) else "postgresql")
        yield server


async def deliver(
    live: LiveServer, remote: RemoteFediverse, activity: dict[str, Any], inbox: str | None = None
) -> None:
    """POST a signed activity (202 expected) and run every job it caused."""
    response = await remote.send(inbox or live.shared_inbox, activity)
    assert response.status_code == 202, response.text
    await live.drain()


async def actor_id(live: LiveServer, uri: str) -> int:
    actor = await actors.by_uri(live.state.db, uri)
    assert actor is not None, uri
    return actor.id


async def follow_state(live: LiveServer, follower_uri: str, followee_uri: str) -> str | None:
    value = await live.state.db.fetchval(
        "SELECT f.state FROM follows f JOIN actors a ON a.id = f.follower_id"
        " JOIN actors b ON b.id = f.followee_id WHERE a.uri = ? AND b.uri = ?",
        (follower_uri, followee_uri),
    )
    return str(value) if value is not None else None


def assert_all_verified(remote: RemoteFediverse) -> None:
    assert remote.errors == []
    for post in remote.received:
        assert post.verified, f"{post.type} to {post.path}: {post.error}"


async def our_note(live: LiveServer, text: str) -> Note:
    return await publish.publish_note(live.state, live.ai, Draft(text=text))


# --- follows of our actors -------------------------------------------------------------------


async def test_follow_of_the_ai_is_stored_and_accepted(
    live: LiveServer, remote: RemoteFediverse
) -> None:
    alice, ai = remote.actor_uri("alice"), live.ai.actor.uri
    follow = remote.activity("alice", "Follow", ai)

    await deliver(live, remote, follow, inbox=live.inbox("ai"))

    assert await follow_state(live, alice, ai) == "accepted"
    [accept] = remote.posts(type="Accept")
    assert accept.path == "/users/alice/inbox"
    assert accept.verified, accept.error
    assert accept.signer == ai
    assert accept.activity is not None
    assert accept.activity["actor"] == ai
    assert accept.activity["object"] == remote.embedded(follow)
    collection = (await live.get_as2(f"{ai}/followers")).json()
    assert collection["totalItems"] == 1


async def test_repeated_follow_is_accepted_again(live: LiveServer, remote: RemoteFediverse) -> None:
    ai = live.ai.actor.uri
    first = remote.activity("alice", "Follow", ai)
    again = remote.activity("alice", "Follow", ai)

    await deliver(live, remote, first, inbox=live.inbox("ai"))
    await deliver(live, remote, again, inbox=live.inbox("ai"))

    assert await live.count("SELECT COUNT(*) FROM follows") == 1
    assert await follow_state(live, remote.actor_uri("alice"), ai) == "accepted"
    accepts = remote.posts(type="Accept")
    assert [a.activity["object"]["id"] for a in accepts if a.activity] == [first["id"], again["id"]]
    assert_all_verified(remote)


async def test_undo_follow_removes_the_follower(live: LiveServer, remote: RemoteFediverse) -> None:
    follow = remote.activity("alice", "Follow", live.ai.actor.uri)
    await deliver(live, remote, follow, inbox=live.inbox("ai"))

    await deliver(live, remote, remote.activity("alice", "Undo", remote.embedded(follow)))

    assert await live.count("SELECT COUNT(*) FROM follows") == 0


# --- notes -----------------------------------------------------------------------------------


async def test_create_mentioning_the_ai_stores_a_clean_note(
    live: LiveServer, remote: RemoteFediverse
) -> None:
    ai = live.ai.actor
    content = (
        f'<p>Hello <span class="h-card"><a href="{ai.url}" class="u-url mention">@<span>ai'
        '</span></a></span>, what is this?<script>alert("script")</script>'
        '<img src="x" onerror="alert(1)">'
        '<a href="javascript:alert(2)" onclick="alert(3)">click</a></p>'
    )
    note = remote.note(
        "alice",
        content,
        cc=[remote.followers("alice"), ai.uri],
        tag=[{"type": "Mention", "href": ai.uri, "name": f"@ai@{live.config.instance.domain}"}],
        attachment=[
            {
                "type": "Document",
                "mediaType": "image/png",
                "url": f"{remote.base_url}/media/cat.png",
                "name": "A cat asleep on a keyboard",
                "width": 640,
                "height": 480,
            }
        ],
    )

    await deliver(live, remote, remote.activity("alice", "Create", note), inbox=live.inbox("ai"))

    stored = await notes.by_uri(live.state.db, note["id"])
    assert stored is not None
    assert stored.actor_id == await actor_id(live, remote.actor_uri("alice"))
    assert not stored.local and stored.visibility == "public"
    assert "Hello" in stored.content and "what is this?" in stored.content
    for payload in ("<script", "alert(", "onerror", "onclick", "javascript:", "<img"):
        assert payload not in stored.content
    assert await notes.mentions_of(live.state.db, stored.id) == [ai.uri]
    [image] = await media.for_note(live.state.db, stored.id)
    assert image.description == "A cat asleep on a keyboard"
    assert image.url == f"{remote.base_url}/media/cat.png"
    assert (image.media_type, image.width, image.height, image.local) == (
        "image/png",
        640,
        480,
        False,
    )


async def test_an_answer_goes_ahead_of_jobs_queued_before_it(
    live: LiveServer, remote: RemoteFediverse
) -> None:
    # A burst of mentions is answered first come, first answered, not all at the end.
    ai = live.ai.actor
    mention = remote.note(
        "alice",
        f'<p><a href="{ai.url}" class="u-url mention">@ai</a> what is 2+2?</p>',
        cc=[ai.uri],
        tag=[{"type": "Mention", "href": ai.uri, "name": f"@ai@{live.config.instance.domain}"}],
    )
    response = await remote.send(live.shared_inbox, remote.activity("alice", "Create", mention))
    assert response.status_code == 202
    db, now = live.state.db, live.state.now()
    assert await jobs.enqueue(db, "later-work", {}, now=now)  # queued before the answer exists
    worker = Worker(live.state, {**DEFAULT_HANDLERS, "later-work": _nothing})
    assert await worker.run_once()  # the inbox job: stores the note, queues the answer
    claimed = await jobs.claim(db, now=live.state.now(), lease_seconds=60)
    assert claimed is not None and claimed.kind == AI_REPLY
    assert claimed.payload == {"note_uri": mention["id"]}


async def _nothing(state: object, payload: dict[str, Any]) -> None:
    return None


async def test_duplicate_create_is_stored_once(live: LiveServer, remote: RemoteFediverse) -> None:
    note = remote.note("alice", "<p>once</p>")
    create = remote.activity("alice", "Create", note)

    for _ in range(2):
        response = await remote.send(live.shared_inbox, create)
        assert response.status_code == 202, response.text
    await live.drain()
    response = await remote.send(live.inbox("ai"), create)
    assert response.status_code == 202, response.text
    await live.drain()

    assert await live.count("SELECT COUNT(*) FROM notes WHERE uri = ?", (note["id"],)) == 1
    assert await live.count("SELECT COUNT(*) FROM activities WHERE uri = ?", (create["id"],)) == 1
    assert await live.count("SELECT COUNT(*) FROM jobs WHERE kind = 'inbox'") == 1
    per_kind = await live.state.db.fetchall("SELECT kind, COUNT(*) FROM jobs GROUP BY kind")
    assert all(row[1] == 1 for row in per_kind), [tuple(r) for r in per_kind]


async def test_update_replaces_content_only_when_newer(
    live: LiveServer, remote: RemoteFediverse
) -> None:
    note = remote.note("alice", "<p>first draft</p>", published="2026-01-01T12:00:00Z")
    await deliver(live, remote, remote.activity("alice", "Create", note))

    newer = {**note, "content": "<p>edited</p>", "updated": "2026-01-01T13:00:00Z"}
    await deliver(live, remote, remote.activity("alice", "Update", newer))
    stored = await notes.by_uri(live.state.db, note["id"])
    assert stored is not None and "edited" in stored.content
    assert stored.updated_text == "2026-01-01T13:00:00Z"

    older = {**note, "content": "<p>stale edit</p>", "updated": "2026-01-01T12:30:00Z"}
    await deliver(live, remote, remote.activity("alice", "Update", older))
    stored = await notes.by_uri(live.state.db, note["id"])
    assert stored is not None and "edited" in stored.content and "stale" not in stored.content


async def test_update_of_an_unknown_note_stores_it(
    live: LiveServer, remote: RemoteFediverse
) -> None:
    note = remote.note("alice", "<p>seen first as an edit</p>", updated="2026-01-02T00:00:00Z")

    await deliver(live, remote, remote.activity("alice", "Update", note))

    stored = await notes.by_uri(live.state.db, note["id"])
    assert stored is not None and "seen first as an edit" in stored.content


async def test_delete_before_create_keeps_the_note_deleted(
    live: LiveServer, remote: RemoteFediverse
) -> None:
    note = remote.note("alice", "<p>regretted</p>")
    tombstone = {"id": note["id"], "type": "Tombstone"}

    await deliver(live, remote, remote.activity("alice", "Delete", tombstone, to=[PUBLIC]))
    await deliver(live, remote, remote.activity("alice", "Create", note))

    assert await live.count("SELECT COUNT(*) FROM tombstones WHERE uri = ?", (note["id"],)) == 1
    assert await notes.by_uri(live.state.db, note["id"]) is None


async def test_delete_removes_the_note(live: LiveServer, remote: RemoteFediverse) -> None:
    note = remote.note("alice", "<p>short-lived</p>")
    await deliver(live, remote, remote.activity("alice", "Create", note))
    assert await notes.by_uri(live.state.db, note["id"]) is not None

    await deliver(live, remote, remote.activity("alice", "Delete", note["id"], to=[PUBLIC]))

    assert await notes.by_uri(live.state.db, note["id"]) is None


async def test_actor_delete_purges_the_actor_and_its_notes(
    live: LiveServer, remote: RemoteFediverse
) -> None:
    alice = remote.actor_uri("alice")
    by_alice = [remote.note("alice", f"<p>note {i}</p>") for i in range(2)]
    by_bob = remote.note("bob", "<p>bob stays</p>")
    for note in [*by_alice, by_bob]:
        author = "alice" if note in by_alice else "bob"
        await deliver(live, remote, remote.activity(author, "Create", note))
    assert await live.count("SELECT COUNT(*) FROM notes") == 3

    await deliver(live, remote, remote.activity("alice", "Delete", alice, to=[PUBLIC]))

    assert await actors.by_uri(live.state.db, alice) is None
    assert [n["id"] for n in by_alice if await notes.by_uri(live.state.db, n["id"])] == []
    assert await notes.by_uri(live.state.db, by_bob["id"]) is not None


# --- reactions to our notes ------------------------------------------------------------------


async def test_like_and_undo_like(live: LiveServer, remote: RemoteFediverse) -> None:
    note = await our_note(live, "Like me")
    like = remote.activity("alice", "Like", note.uri)

    await deliver(live, remote, like)
    await deliver(live, remote, remote.activity("alice", "Like", note.uri))  # new id, same like
    rows = await live.state.db.fetchall("SELECT kind, emoji, note_id FROM reactions")
    assert [tuple(r) for r in rows] == [("like", "", note.id)]

    await deliver(live, remote, remote.activity("alice", "Undo", remote.embedded(like)))
    assert await live.count("SELECT COUNT(*) FROM reactions") == 0


async def test_announce_and_undo_announce(live: LiveServer, remote: RemoteFediverse) -> None:
    note = await our_note(live, "Boost me")
    announce = remote.activity("alice", "Announce", note.uri, to=[PUBLIC], cc=[live.ai.actor.uri])

    await deliver(live, remote, announce)
    rows = await live.state.db.fetchall("SELECT uri, note_id FROM announces")
    assert [tuple(r) for r in rows] == [(announce["id"], note.id)]

    await deliver(live, remote, remote.activity("alice", "Undo", remote.embedded(announce)))
    assert await live.count("SELECT COUNT(*) FROM announces") == 0


@pytest.mark.parametrize(
    ("activity_type", "extra", "emoji"),
    [
        pytest.param("EmojiReact", {"content": "🔥"}, "🔥", id="pleroma-emojireact"),
        pytest.param("Like", {"content": "👍", "_misskey_reaction": "👍"}, "👍", id="misskey-like"),
    ],
)
async def test_emoji_reactions(
    live: LiveServer,
    remote: RemoteFediverse,
    activity_type: str,
    extra: dict[str, Any],
    emoji: str,
) -> None:
    note = await our_note(live, "React to me")
    reaction = remote.activity("alice", activity_type, note.uri, **extra)

    await deliver(live, remote, reaction)
    rows = await live.state.db.fetchall("SELECT kind, emoji, note_id FROM reactions")
    assert [tuple(r) for r in rows] == [("emoji", emoji, note.id)]

    await deliver(live, remote, remote.activity("alice", "Undo", remote.embedded(reaction)))
    assert await live.count("SELECT COUNT(*) FROM reactions") == 0


# --- moderation ------------------------------------------------------------------------------


async def test_block_removes_the_follow(live: LiveServer, remote: RemoteFediverse) -> None:
    ai = live.ai.actor.uri
    await deliver(live, remote, remote.activity("alice", "Follow", ai), inbox=live.inbox("ai"))
    assert await live.count("SELECT COUNT(*) FROM follows") == 1

    await deliver(live, remote, remote.activity("alice", "Block", ai), inbox=live.inbox("ai"))

    assert await live.count("SELECT COUNT(*) FROM follows") == 0
    assert await live.count("SELECT COUNT(*) FROM blocks") == 1


async def test_flag_stores_a_report(live: LiveServer, remote: RemoteFediverse) -> None:
    note = await our_note(live, "Report me")
    flagged = [live.ai.actor.uri, note.uri]

    await deliver(
        live, remote, remote.activity("alice", "Flag", flagged, content="Spam, twice a minute")
    )

    row = await live.state.db.fetchone(
        "SELECT reporter_uri, object_uris_json, content FROM reports"
    )
    assert row is not None
    assert row["reporter_uri"] == remote.actor_uri("alice")
    assert json.loads(row["object_uris_json"]) == flagged
    assert row["content"] == "Spam, twice a minute"


# --- answers to our own follows --------------------------------------------------------------


async def follow_alice_from_carol(live: LiveServer, remote: RemoteFediverse) -> dict[str, Any]:
    """Carol (a local user) follows alice; returns the Follow as alice's server received it."""
    carol = await live.account("carol")
    target = await resolver.fetch_actor(live.state, remote.actor_uri("alice"))
    await interactions.follow(live.state, carol, target)
    await live.drain()
    [received] = remote.posts(path="/users/alice/inbox", type="Follow")
    assert received.verified, received.error
    assert received.signer == carol.actor.uri
    assert received.activity is not None
    assert await follow_state(live, carol.actor.uri, remote.actor_uri("alice")) == "pending"
    return received.activity


async def test_accept_of_our_follow_makes_it_accepted(
    live: LiveServer, remote: RemoteFediverse
) -> None:
    follow = await follow_alice_from_carol(live, remote)

    accept = remote.activity("alice", "Accept", remote.embedded(follow))
    await deliver(live, remote, accept, inbox=live.inbox("carol"))

    carol = live.config.instance.base_url + "/users/carol"
    assert await follow_state(live, carol, remote.actor_uri("alice")) == "accepted"


async def test_reject_of_our_follow_removes_it(live: LiveServer, remote: RemoteFediverse) -> None:
    follow = await follow_alice_from_carol(live, remote)

    reject = remote.activity("alice", "Reject", remote.embedded(follow))
    await deliver(live, remote, reject, inbox=live.inbox("carol"))

    assert await live.count("SELECT COUNT(*) FROM follows") == 0


# --- profile updates -------------------------------------------------------------------------


async def test_update_person_refreshes_the_cached_actor(
    live: LiveServer, remote: RemoteFediverse
) -> None:
    alice = remote.actor_uri("alice")
    await deliver(live, remote, remote.activity("alice", "Follow", live.ai.actor.uri))
    cached = await actors.by_uri(live.state.db, alice)
    assert cached is not None and cached.display_name == "Alice"

    remote.users["alice"].display_name = "Alice in Testland"
    profile = remote.embedded(remote.actor_document("alice"))
    await deliver(live, remote, remote.activity("alice", "Update", profile, to=[PUBLIC]))

    refreshed = await actors.by_uri(live.state.db, alice)
    assert refreshed is not None and refreshed.display_name == "Alice in Testland"
    assert "Alice in Testland" in refreshed.summary
