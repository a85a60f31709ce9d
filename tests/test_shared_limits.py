"""The limits every process on one database shares (``storage/shared_limits.py``), on a real
SQLite file and a real PostgreSQL schema with the time pinned; two ``Database`` objects on one
store stand for two processes (each has its own connections, as a second process would)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from fediverse_ai.bot.ai_slots import AISlots
from fediverse_ai.config import RetentionConfig
from fediverse_ai.storage import retention, shared_limits
from fediverse_ai.storage.db import Database
from fediverse_ai.storage.store import open_store

NOW = 1_700_000_200.0  # 100 s into a 300 s window
WINDOW = shared_limits.API_WINDOW_SECONDS


@pytest.fixture
async def two(store: Path | str) -> AsyncIterator[tuple[Database, Database]]:
    async with open_store(store) as first, open_store(store) as second:
        await first.migrate()
        yield first, second


async def test_hits_count_per_key_across_processes_and_start_over_each_window(
    two: tuple[Database, Database],
) -> None:
    a, b = two
    start = shared_limits.window_start(NOW)
    assert start <= NOW < start + WINDOW and start % WINDOW == 0
    assert (await shared_limits.hit(a, "token:x", now=NOW)).hits == 1
    assert (await shared_limits.hit(b, "token:x", now=NOW + 1)).hits == 2
    third = await shared_limits.hit(a, "token:x", now=start + WINDOW - 0.001)
    assert third == shared_limits.WindowCount(hits=3, resets_at=start + WINDOW)
    assert (await shared_limits.hit(b, "token:y", now=NOW)).hits == 1  # its own count
    following = await shared_limits.hit(b, "token:x", now=start + WINDOW)
    assert following == shared_limits.WindowCount(hits=1, resets_at=start + 2 * WINDOW)


async def test_each_new_key_takes_some_rows_of_ended_windows_away(
    two: tuple[Database, Database],
) -> None:
    a, b = two
    old = shared_limits.PRUNE_BATCH * 2 + 3
    for i in range(old):
        await shared_limits.hit(a, f"addr:{i}", now=NOW - WINDOW)
    await shared_limits.hit(b, "addr:0", now=NOW - WINDOW)  # not new: nothing pruned
    count = "SELECT COUNT(*) FROM api_request_counts"
    assert await a.fetchval(count) == old
    await shared_limits.hit(b, "new 1", now=NOW)
    await shared_limits.hit(b, "new 1", now=NOW)  # a repeat prunes nothing
    assert await a.fetchval(count) == old - shared_limits.PRUNE_BATCH + 1
    await shared_limits.hit(a, "new 2", now=NOW)
    await shared_limits.hit(a, "new 3", now=NOW)
    current = "SELECT COUNT(*) FROM api_request_counts WHERE window_start = ?"
    assert await a.fetchval(count) == await a.fetchval(current, (shared_limits.window_start(NOW),))
    assert await a.fetchval(count) == 3


async def test_concurrent_hits_from_two_processes_lose_none(
    two: tuple[Database, Database],
) -> None:
    a, b = two
    results = await asyncio.gather(
        *(shared_limits.hit(db, "addr:1", now=NOW) for _ in range(50) for db in (a, b))
    )
    assert sorted(r.hits for r in results) == list(range(1, 101))


async def test_slots_are_shared_and_a_lease_that_ran_out_is_taken_over(
    two: tuple[Database, Database],
) -> None:
    a, b = two
    take = {"size": 2, "lease_seconds": 10.0}
    first = await shared_limits.acquire(a, "ai", "h1", now=NOW, **take)
    second = await shared_limits.acquire(b, "ai", "h2", now=NOW, **take)
    assert first is not None and second is not None
    assert {first.slot, second.slot} == {0, 1}
    assert await shared_limits.acquire(a, "ai", "h3", now=NOW + 9.9, **take) is None
    assert await shared_limits.acquire(a, "other", "h3", now=NOW, **take) is not None
    assert len(await shared_limits.holders(b, "ai", now=NOW)) == 2
    # h1 renews; h2 does not and loses its slot to h3 once its lease has run out
    assert await shared_limits.renew(a, first, now=NOW + 5, lease_seconds=10.0)
    third = await shared_limits.acquire(b, "ai", "h3", now=NOW + 10, **take)
    assert third is not None and third.slot == second.slot
    assert not await shared_limits.renew(b, second, now=NOW + 11, lease_seconds=10.0)
    await shared_limits.release(b, second)  # late: h3's slot stays h3's
    assert len(await shared_limits.holders(a, "ai", now=NOW + 11)) == 2
    await shared_limits.release(a, first)
    assert len(await shared_limits.holders(a, "ai", now=NOW + 11)) == 1
    again = await shared_limits.acquire(b, "ai", "h4", now=NOW + 11, **take)
    assert again is not None and again.slot == first.slot


async def test_racing_acquisitions_never_hand_out_more_slots_than_the_pool_has(
    two: tuple[Database, Database],
) -> None:
    a, b = two
    leases = await asyncio.gather(
        *(
            shared_limits.acquire(db, "ai", f"{name}{i}", size=3, now=NOW, lease_seconds=60)
            for i in range(20)
            for name, db in (("a", a), ("b", b))
        )
    )
    taken = [lease for lease in leases if lease is not None]
    assert sorted(lease.slot for lease in taken) == [0, 1, 2]


async def test_the_retention_purge_drops_ended_windows_and_run_out_leases(
    two: tuple[Database, Database],
) -> None:
    a, _ = two
    await shared_limits.hit(a, "current", now=NOW)
    await shared_limits.hit(a, "old", now=NOW - WINDOW)  # after: "current" would prune it
    await shared_limits.acquire(a, "ai", "gone", size=2, now=NOW - 100, lease_seconds=10)
    await shared_limits.acquire(a, "other", "live", size=2, now=NOW, lease_seconds=10)
    removed = await retention.purge(a, RetentionConfig(), now=NOW)
    assert removed["api_request_counts"] == 1 and removed["slot_leases"] == 1
    assert await a.fetchval("SELECT group_concat(key) FROM api_request_counts") == "current"
    assert await a.fetchval("SELECT group_concat(holder) FROM slot_leases") == "live"


async def test_ai_slots_wait_for_a_slot_another_process_holds(
    two: tuple[Database, Database],
) -> None:
    a, b = two
    clock = [NOW]
    mine = AISlots(a, size=1, lease_seconds=30.0, clock=lambda: clock[0])
    theirs = AISlots(b, size=1, lease_seconds=30.0, clock=lambda: clock[0])
    order: list[str] = []

    async def generate(slots: AISlots, name: str, hold_for: float) -> None:
        async with slots.hold():
            order.append(f"{name} in")
            await asyncio.sleep(hold_for)
            order.append(f"{name} out")

    first = asyncio.create_task(generate(theirs, "b", 0.6))
    await asyncio.sleep(0.1)
    await generate(mine, "a", 0)
    await first
    assert order == ["b in", "b out", "a in", "a out"]
    assert len(await shared_limits.holders(a, "ai", now=clock[0])) == 0


async def test_a_generation_cancelled_at_any_point_leaves_no_slot_taken(
    two: tuple[Database, Database],
) -> None:
    a, _ = two
    slots = AISlots(a, size=1, lease_seconds=30.0, clock=lambda: NOW)

    async def generate() -> None:
        async with slots.hold():
            await asyncio.sleep(3600)

    # Cancelled after more and more turns of the loop: while waiting for the read, for the
    # acquiring transaction (which runs to its end regardless), or holding the slot.
    for turns in range(60):
        task = asyncio.create_task(generate())
        for _ in range(turns):
            await asyncio.sleep(0)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        assert await shared_limits.holders(a, "ai", now=NOW) == [], turns
