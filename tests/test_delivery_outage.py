"""A peer down for 30 minutes, then back: everything queued for it arrives once, in order per
inbox, and its domain's circuit closes again.

Our server and the peer's inboxes are real HTTP servers on loopback (``support.live``,
``support.sinks``); the worker runs in the test with the server's clock pinned and advanced a
minute at a time, so half an hour of outage and the retries after it take seconds. The sink
checks every signature against the same clock.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator

import pytest
from support.live import LiveServer
from support.sinks import InboxSink

from fediverse_ai.federation import note_changes, publish
from fediverse_ai.models import Account, Draft
from fediverse_ai.storage import domains
from fediverse_ai.vocab import host_of
from fediverse_ai.worker import Worker

OUTAGE_MINUTES = 30
# Retries back off as attempt**4 + 15 s: after half an hour down the oldest delivery waits
# about 40 minutes more; a few hours is the most it can take.
RECOVERY_MINUTES = 240


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(live: LiveServer) -> Clock:
    pinned = Clock()
    live.state.clock = pinned  # the worker's, the publisher's and the signer's time
    return pinned


@pytest.fixture
async def sinks(clock: Clock) -> AsyncIterator[tuple[InboxSink, InboxSink]]:
    """Two peers' inboxes: the one that goes down, and one that stays up."""
    down, up = InboxSink(clock=clock), InboxSink(clock=clock)
    await down.start()
    try:
        await up.start()
        try:
            yield down, up
        finally:
            await up.stop()
    finally:
        await down.stop()


async def follow_from(live: LiveServer, account: Account, inboxes: list[str]) -> None:
    """Remote followers of ``account``, one per inbox, written straight into the tables."""
    now = live.state.now()
    async with live.state.db.write() as conn:
        for i, inbox in enumerate(inboxes):
            uri = inbox.removesuffix("/inbox")
            await conn.execute(
                "INSERT INTO actors (uri, local, username, domain, inbox, published)"
                " VALUES (?, 0, ?, ?, ?, ?)",
                (uri, f"f{i}", host_of(inbox), inbox, now),
            )
            await conn.execute(
                "INSERT INTO follows (follower_id, followee_id, state, created_at)"
                " SELECT id, ?, 'accepted', ? FROM actors WHERE uri = ?",
                (account.actor.id, now, uri),
            )


async def go_down(sink: InboxSink, how: str) -> None:
    if how == "refusing connections":
        await sink.stop()
    else:
        sink.status = 503


async def come_back(sink: InboxSink) -> None:
    sink.status = None
    if not sink.running:
        await sink.start()


@pytest.mark.parametrize("how", ["refusing connections", "answering 503"])
async def test_peer_down_for_half_an_hour_gets_everything_in_order_once(
    live: LiveServer, clock: Clock, sinks: tuple[InboxSink, InboxSink], how: str
) -> None:
    down_sink, up_sink = sinks
    # Given carol, followed from three inboxes on a peer and one on another
    carol = await live.account("carol")
    down_inboxes = [down_sink.inbox(f"f{i}") for i in range(3)]
    await follow_from(live, carol, [*down_inboxes, up_sink.inbox("g0")])
    worker = Worker(live.state, jitter=lambda: 0.5)
    down_domain = host_of(down_inboxes[0]) or ""

    # When the peer is down for half an hour while carol posts, edits and deletes
    await go_down(down_sink, how)
    first = await publish.publish_note(live.state, carol, Draft(text="first"))
    script = {
        1: lambda: note_changes.edit_note(live.state, carol, first.uri, "first, edited"),
        3: lambda: publish.publish_note(live.state, carol, Draft(text="second")),
        7: lambda: note_changes.edit_note(live.state, carol, first.uri, "first, edited twice"),
        12: lambda: publish.publish_note(live.state, carol, Draft(text="third")),
    }
    third_uri = ""
    await worker.drain()
    for minute in range(1, OUTAGE_MINUTES + 1):
        clock.now += 60
        if minute in script:
            note = await script[minute]()
            third_uri = note.uri if minute == 12 else third_uri
        if minute == 20:
            await note_changes.delete_note(live.state, carol, third_uri)
        await worker.drain()
    sent = await queued_for(live, up_sink.inbox("g0"))
    assert len(sent) == 6  # 3 Creates, 2 Updates, 1 Delete, in the order carol made them
    failures, open_until = await domains.get(live.state.db, down_domain)
    assert failures >= 5 and open_until is not None, "the peer's circuit never opened"
    # Deliveries to the peer that stayed up were never held back by the one that was down.
    assert [r.activity_id for r in up_sink.received] == sent

    # Then, once it is back, everything queued for it arrives, in order and once per inbox
    await come_back(down_sink)
    for _ in range(RECOVERY_MINUTES):
        clock.now += 60
        await worker.drain()
        if len(down_sink.received) >= len(sent) * len(down_inboxes):
            break
    await worker.drain()
    assert down_sink.errors == [] and down_sink.unverified() == []
    for path in (httpx_path(inbox) for inbox in down_inboxes):
        got = [r.activity_id for r in down_sink.by_inbox().get(path, [])]
        assert got == sent, f"{path} received {got}"
    assert down_sink.duplicates() == 0
    left = await live.state.db.fetchall(
        "SELECT state, COUNT(*) FROM jobs WHERE kind = 'deliver' GROUP BY state"
    )
    assert [tuple(row) for row in left] == [("done", len(sent) * 4)]
    # And its circuit is closed again
    assert await domains.get(live.state.db, down_domain) == (0, None)


async def queued_for(live: LiveServer, inbox: str) -> list[str]:
    """The ids of the activities queued for ``inbox``, oldest first."""
    rows = await live.state.db.fetchall(
        "SELECT payload FROM jobs WHERE kind = 'deliver' AND dedupe_key LIKE ? ORDER BY id",
        (f"deliver:%:{inbox}",),
    )
    return [json.loads(json.loads(payload)["body"])["id"] for (payload,) in rows]


def httpx_path(url: str) -> str:
    return "/" + url.split("/", 3)[3]
