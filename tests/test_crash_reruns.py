"""A job that ran but was not recorded done before a crash runs again: the peer must not see
anything new it cannot tell apart from the first run (receivers dedupe by activity id).

The crash is injected with a SQLite trigger (``RAISE(ABORT, …)`` raised as SQLite's own
IntegrityError, from inside the real write); PostgreSQL's triggers are plpgsql functions with
other errors, so those tests run on the SQLite run only. What they protect is the jobs'
rerun logic above the store, which does not differ between the two.
"""

from __future__ import annotations

import sqlite3
import time

import pytest
from support.live import LiveServer
from support.remote import RemoteFediverse
from support.stores import sqlite_only

from fediverse_ai.federation import inbox, publish
from fediverse_ai.models import Draft


async def test_a_follow_processed_again_after_a_crash_sends_the_same_accept(
    live: LiveServer, remote: RemoteFediverse
) -> None:
    # Given alice's Follow of the AI, processed and accepted
    follow = remote.activity("alice", "Follow", live.ai.actor.uri)
    assert (await remote.send(live.inbox("ai"), follow)).status_code == 202
    await live.drain()
    [first] = remote.posts(type="Accept")

    # When the worker is killed before recording the job done, and runs it again on restart
    await inbox.process(live.state, {"uri": follow["id"]})
    await live.drain()

    # Then the Accept it queues again is the same activity, already delivered: nothing is sent
    assert [p.activity["id"] for p in remote.posts(type="Accept") if p.activity] == [
        first.activity["id"] if first.activity else None
    ]


@sqlite_only("the failure is injected with a SQLite trigger")
async def test_a_post_stored_but_never_queued_for_delivery_goes_out_a_minute_later(
    live: LiveServer, remote: RemoteFediverse
) -> None:
    # Given alice follows carol
    carol = await live.account("carol")
    follow = remote.activity("alice", "Follow", carol.actor.uri)
    assert (await remote.send(live.inbox("carol"), follow)).status_code == 202
    await live.drain()
    # When carol's post is stored, and queueing its deliveries fails as a crash or a full
    # disk would make it fail (a trigger of the real database refuses them)
    async with live.state.db.write() as conn:
        await conn.execute(
            "CREATE TRIGGER no_deliveries BEFORE INSERT ON jobs WHEN NEW.kind = 'deliver'"
            " BEGIN SELECT RAISE(ABORT, 'disk full'); END"
        )
    with pytest.raises(sqlite3.IntegrityError, match="disk full"):
        await publish.publish_note(live.state, carol, Draft(text="hello, followers"))
    async with live.state.db.write() as conn:
        await conn.execute("DROP TRIGGER no_deliveries")
    [stored] = await live.state.db.fetchall(
        "SELECT uri FROM notes WHERE source = 'hello, followers'"
    )
    await live.drain()
    assert remote.posts(type="Create") == []

    # Then a minute later the worker queues and sends them, once
    live.state.clock = lambda: time.time() + 61
    await live.drain()
    creates = [p.activity for p in remote.posts(type="Create") if p.activity]
    assert [c["object"]["id"] for c in creates] == [stored[0]]
    await live.drain()
    assert len(remote.posts(type="Create")) == 1


@sqlite_only("the failure is injected with a SQLite trigger")
async def test_a_mention_stored_before_a_crash_still_gets_its_answer(
    live: LiveServer, remote: RemoteFediverse
) -> None:
    """Found by the crash test (a mention without an answer after 20 kills): the inbox job
    stored the mention, then died before queueing the AI's answer; run again, it found the
    note known and queued nothing. Now the rerun queues the answer (the job dedupes)."""
    ai = live.ai.actor
    note = remote.note(
        "alice",
        f'<p><a href="{ai.url}" class="u-url mention">@ai</a> hello?</p>',
        tag=[{"type": "Mention", "href": ai.uri, "name": "@ai"}],
        cc=(ai.uri,),
    )
    create = remote.activity("alice", "Create", note)
    async with live.state.db.write() as conn:
        await conn.execute(
            "CREATE TRIGGER no_answers BEFORE INSERT ON jobs WHEN NEW.kind = 'ai_reply'"
            " BEGIN SELECT RAISE(ABORT, 'killed'); END"
        )
    assert (await remote.send(live.shared_inbox, create)).status_code == 202
    with pytest.raises(sqlite3.IntegrityError, match="killed"):
        await inbox.process(live.state, {"uri": create["id"]})
    async with live.state.db.write() as conn:
        await conn.execute("DROP TRIGGER no_answers")
    assert await live.count("SELECT COUNT(*) FROM notes WHERE uri = ?", (note["id"],)) == 1

    await inbox.process(live.state, {"uri": create["id"]})  # the job's rerun after restart

    assert await live.count("SELECT COUNT(*) FROM jobs WHERE kind = 'ai_reply'") == 1
    await inbox.process(live.state, {"uri": create["id"]})  # and again: still one answer
    assert await live.count("SELECT COUNT(*) FROM jobs WHERE kind = 'ai_reply'") == 1
