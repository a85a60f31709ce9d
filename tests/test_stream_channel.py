"""The streams' channel between processes (issue 15): two brokers on one SQLite file, each
with its own connections, as a ``fediverse-ai run`` and a ``fediverse-ai worker`` have them.
What one publishes reaches the other's streams once and in order, its own streams once (from
memory, not again from the table), and a stream opened later sees nothing older."""

from __future__ import annotations

import asyncio
from dataclasses import replace

from test_shared_limits import two  # noqa: F401 (the fixture)
from test_storage import T0, note_row, remote_actor

from fediverse_ai.config_ops import RetentionConfig
from fediverse_ai.storage import notes, retention, stream_events
from fediverse_ai.storage.db import Database
from fediverse_ai.storage.notes import insert
from fediverse_ai.storage.stream_events import EventRow
from fediverse_ai.streams import Boost, Broker, Event, Notice, StreamEvent, Subscription

POLL = 0.02


async def taken(sub: Subscription, count: int) -> list[Event]:
    out = []
    for _ in range(count):
        event = await sub.next(idle_after=5)
        assert event is not None and event != "idle", f"{len(out)} of {count} events came"
        out.append(event)
    return out


async def nothing_more(sub: Subscription) -> None:
    assert await sub.next(idle_after=POLL * 10) == "idle"


async def test_events_reach_the_other_process_once_in_order(
    two: tuple[Database, Database],  # noqa: F811
) -> None:
    db_a, db_b = two
    author = await remote_actor(db_a, "author")
    note_id = await db_a.transaction(
        lambda conn: insert(
            conn, note_row("https://remote.example/n/1", author, "<p>hello</p>"), now=T0
        )
    )
    assert note_id is not None
    stored = await notes.by_id(db_a, note_id)
    assert stored is not None
    a, b = brokers(db_a, db_b)
    # A row from before b's streams opened is not replayed to them.
    await stream_events.append(db_a, [EventRow("an old process", "notice:follow", 1, 2, 3, at=T0)])
    on_a, on_b = a.subscribe(), b.subscribe()
    await asyncio.wait_for(asyncio.gather(a.following.wait(), b.following.wait()), 5)

    gone = replace(
        stored,
        id=note_id + 1000,
        content="<p>secret</p>",
        visibility="direct",
        to=("https://here.example/users/alice",),
        tags=({"type": "Mention", "href": "https://here.example/users/alice"},),
    )
    ghost = replace(stored, id=note_id + 2000)
    # The publisher's copy is not what the other process shows: it reads the note back.
    stale = replace(stored, content="")
    notices = [Notice(author.id, "like", author.id + i, note_id, T0 + i) for i in range(30)]
    a.publish("new", ghost)  # a note deleted before b reads it: nothing to show there
    a.publish("boost", stale, Boost(7, author.id, T0 + 0.5))
    for notice in notices:
        a.notify(notice)
    a.publish("delete", gone)

    # a's own stream had everything at once, from memory, and gets none of it again.
    own = await taken(on_a, 33)
    assert [e for e in own if isinstance(e, Notice)] == notices
    await asyncio.sleep(POLL * 5)
    await nothing_more(on_a)

    # b's stream has them once, in the order published, the note read back from the table.
    seen = await taken(on_b, 32)
    await nothing_more(on_b)
    boost, *likes, deleted = seen
    assert isinstance(boost, StreamEvent) and boost.kind == "boost"
    assert boost.note.id == note_id and boost.note.content == "<p>hello</p>"
    assert boost.boost == Boost(7, author.id, T0 + 0.5)
    assert likes == notices
    assert isinstance(deleted, StreamEvent) and deleted.kind == "delete"
    # A deleted note keeps its audience for its streams, and nothing of its content.
    assert (deleted.note.id, deleted.note.visibility, deleted.note.to, deleted.note.tags) == (
        gone.id,
        gone.visibility,
        gone.to,
        gone.tags,
    )
    assert deleted.note.content == ""

    # b's events reach a the same way.
    b.notify(Notice(author.id, "poll", author.id, note_id, T0 + 99))
    (back,) = await taken(on_a, 1)
    assert back == Notice(author.id, "poll", author.id, note_id, T0 + 99)
    (mine,) = await taken(on_b, 1)
    assert mine == back
    await nothing_more(on_b)

    on_a.close()
    on_b.close()
    await b.flush()
    a.close()
    b.close()


def brokers(db_a: Database, db_b: Database) -> tuple[Broker, Broker]:
    """Two processes' brokers that poll often and ask every time whether the other reads."""
    return (
        Broker(db=db_a, poll_seconds=POLL, presence_seconds=0),
        Broker(db=db_b, poll_seconds=POLL, presence_seconds=0),
    )


async def test_events_are_written_only_while_another_process_reads(
    two: tuple[Database, Database],  # noqa: F811
) -> None:
    db_a, db_b = two
    a, b = brokers(db_a, db_b)
    # No stream open anywhere: nothing is written, nothing is read.
    a.notify(Notice(1, "like", 2, None, T0))
    await a.flush()
    assert await stream_events.after(db_b, 0, limit=10) == []
    # b opens a stream: a's events are written from then on, and b reads them.
    on_b = b.subscribe()
    await asyncio.wait_for(b.following.wait(), 30)  # the machine may be loaded
    for i in range(1, 4):
        a.notify(Notice(1, "like", 2, None, T0 + i))
    await a.flush()
    rows = await stream_events.after(db_b, 0, limit=10)
    assert [r.at for r in rows] == [T0 + 1, T0 + 2, T0 + 3]
    assert {r.origin for r in rows} == {a.origin}
    assert [e.at for e in await taken(on_b, 3) if isinstance(e, Notice)] == [T0 + 1, T0 + 2, T0 + 3]
    # b's own events are not written while only b reads.
    b.notify(Notice(1, "like", 2, None, T0 + 4))
    await b.flush()
    assert len(await stream_events.after(db_b, 0, limit=10)) == 3
    # Its stream closed, b says it no longer reads; a writes nothing more.
    on_b.close()
    await asyncio.wait_for(wait_cleared(b), 30)
    assert await db_a.fetchval("SELECT COUNT(*) FROM stream_readers") == 0
    a.notify(Notice(1, "like", 2, None, T0 + 5))
    await a.flush()
    assert len(await stream_events.after(db_b, 0, limit=10)) == 3

    # Minutes later the purge drops them, all but the newest: ids keep growing from there.
    later = rows[-1].created_at + retention.STREAM_EVENTS_SECONDS + 1
    removed = await retention.purge(db_a, RetentionConfig(), now=later)
    assert removed["stream_events"] == 2
    assert [r.id for r in await stream_events.after(db_b, 0, limit=10)] == [rows[-1].id]


async def wait_cleared(broker: Broker) -> None:
    while broker.following.is_set():
        await asyncio.sleep(POLL)
