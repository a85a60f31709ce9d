"""Jobs that share a queue key (deliveries to one inbox) run one at a time, oldest first."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from fediverse_ai.storage import jobs, stats
from fediverse_ai.storage.db import Database
from fediverse_ai.storage.job_queues import PARK_SECONDS as PARK
from fediverse_ai.storage.store import open_store

T0 = 1_700_000_000.0
LEASE = 600.0


@pytest.fixture
async def db(store: Path | str) -> AsyncIterator[Database]:
    """A migrated store, once on SQLite and once on PostgreSQL (``store`` in conftest.py)."""
    async with open_store(store) as database:
        await database.migrate()
        yield database


async def queue(db: Database, *items: tuple[str, str | None], now: float = T0) -> None:
    """Deliveries named by their dedupe key, each with its inbox as queue key (or none)."""
    batch = [("deliver", {"n": name}, name) for name, _ in items]
    await jobs.enqueue_many(db, batch, now=now, queue_keys=[inbox for _, inbox in items])


async def claimed(db: Database, now: float = T0) -> str | None:
    job = await jobs.claim(db, now=now, lease_seconds=LEASE)
    return job.dedupe_key if job else None


async def test_a_younger_job_waits_while_an_older_one_of_its_inbox_runs(db: Database) -> None:
    await queue(db, ("create", "inbox-a"), ("update", "inbox-a"), ("other", "inbox-b"))
    first = await jobs.claim(db, now=T0, lease_seconds=LEASE)
    assert first is not None and first.dedupe_key == "create"
    assert await claimed(db) == "other"  # another inbox is not held back
    assert await claimed(db) is None  # "update" waits for "create"
    await jobs.complete(db, first.id, now=T0)
    assert await claimed(db) == "update"


async def due_times(db: Database) -> list[tuple[str, float]]:
    rows = await db.fetchall("SELECT dedupe_key, run_after FROM jobs ORDER BY id")
    return [(key, at - T0) for key, at in rows]


async def test_jobs_behind_the_head_are_parked_until_it_ends(db: Database) -> None:
    await queue(db, ("create", "inbox-a"), ("update", "inbox-a"), ("delete", "inbox-a"))
    # Not due, so a claim never has to step over them.
    assert await due_times(db) == [("create", 0), ("update", PARK), ("delete", PARK)]
    first = await jobs.claim(db, now=T0, lease_seconds=LEASE)
    assert first is not None
    await jobs.complete(db, first.id, now=T0 + 5)
    assert await due_times(db) == [("create", 0), ("update", 5), ("delete", PARK)]
    assert await claimed(db, T0 + 5) == "update"


async def test_a_retry_holds_back_its_inbox_and_the_queue_behind_it(db: Database) -> None:
    await queue(db, ("create", "inbox-a"), ("update", "inbox-a"))
    first = await jobs.claim(db, now=T0, lease_seconds=LEASE)
    assert first is not None
    await jobs.reschedule(db, first.id, run_after=T0 + 6000, error="HTTP 503", now=T0)
    # Queued later, behind the retry: parked behind it too.
    await queue(db, ("delete", "inbox-a"), now=T0 + 10)
    parked = 6000 + PARK
    assert await due_times(db) == [("create", 6000), ("update", parked), ("delete", parked)]
    assert await claimed(db, T0 + 5999) is None
    retry = await jobs.claim(db, now=T0 + 6000, lease_seconds=LEASE)
    assert retry is not None and retry.dedupe_key == "create"
    await jobs.complete(db, retry.id, now=T0 + 6001)
    assert [await claimed(db, T0 + 6001) for _ in range(2)] == ["update", None]


async def test_the_order_holds_when_a_parked_job_comes_due_anyway(db: Database) -> None:
    await queue(db, ("create", "inbox-a"), ("update", "inbox-a"))
    head = await jobs.claim(db, now=T0, lease_seconds=3 * PARK)  # runs longer than the parking
    assert head is not None and head.dedupe_key == "create"
    assert await claimed(db, T0 + PARK + 1) is None


async def test_a_job_that_failed_for_good_no_longer_holds_back_its_inbox(db: Database) -> None:
    await queue(db, ("create", "inbox-a"), ("update", "inbox-a"))
    first = await jobs.claim(db, now=T0, lease_seconds=LEASE)
    assert first is not None
    await jobs.fail(db, first.id, error="HTTP 404", now=T0)
    assert await claimed(db) == "update"


async def test_a_job_done_with_the_next_claim_makes_the_next_due_for_that_claim(
    db: Database,
) -> None:
    await queue(db, ("create", "inbox-a"), ("update", "inbox-a"))
    first = await jobs.claim(db, now=T0, lease_seconds=LEASE)
    assert first is not None
    second = await jobs.claim(db, now=T0, lease_seconds=LEASE, complete=first.id)
    assert second is not None and second.dedupe_key == "update"


async def test_jobs_without_a_queue_key_are_not_ordered(db: Database) -> None:
    await queue(db, ("a", None), ("b", None))
    assert [await claimed(db) for _ in range(3)] == ["a", "b", None]


async def test_an_expired_lease_is_claimed_again_before_its_queue_moves_on(db: Database) -> None:
    await queue(db, ("create", "inbox-a"), ("update", "inbox-a"))
    assert await claimed(db) == "create"  # its worker dies
    assert await claimed(db, T0 + LEASE - 1) is None
    assert await claimed(db, T0 + LEASE + 1) == "create"


async def test_the_queue_summary_names_each_kinds_newest_error(db: Database) -> None:
    """What `fediverse-ai jobs` and /admin show: on PostgreSQL too, which has no bare column
    beside MAX() (storage/stats.py)."""
    for n, (kind, error) in enumerate(
        [("deliver", "HTTP 500 old"), ("deliver", "HTTP 503 newest"), ("inbox", "bad sig")]
    ):
        await jobs.enqueue(db, kind, {"n": n}, now=T0 + n)
        job = await jobs.claim(db, now=T0 + 10 + n, lease_seconds=LEASE)
        assert job is not None
        await jobs.fail(db, job.id, error=error, now=T0 + 20 + n)
    await jobs.enqueue(db, "embed_note", {}, now=T0)
    summary = {k.kind: (k.last_error, k.last_error_at) for k in await stats.job_kinds(db)}
    assert summary == {
        "deliver": ("HTTP 503 newest", T0 + 21),
        "inbox": ("bad sig", T0 + 22),
        "embed_note": (None, None),
    }
