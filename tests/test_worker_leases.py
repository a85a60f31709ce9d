"""Job leases on a real SQLite file and on PostgreSQL: renewed while a job runs, guarded when lost.

Two workers here are two ``Worker`` instances, each with its own ``State`` and database
connections on the same file, as two processes would have.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import pytest

from fediverse_ai.config import Config, parse_config
from fediverse_ai.errors import DeliveryError
from fediverse_ai.state import State, open_state
from fediverse_ai.storage import jobs
from fediverse_ai.storage.db import Database
from fediverse_ai.storage.store import open_store
from fediverse_ai.worker import Handler, Worker

T0 = 1_700_000_000.0


class Clock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def make_config(tmp_path: Path, store: Path | str) -> Config:
    raw = {
        "instance": {"domain": "localhost:8123", "scheme": "http"},
        "storage": {"database": str(store), "media_dir": "media", "keys_dir": "keys"},
        "worker": {"concurrency": 2, "poll_interval_seconds": 0.02},
    }
    return parse_config(raw, base_dir=tmp_path)


@pytest.fixture
async def db(store: Path | str) -> AsyncIterator[Database]:
    """A migrated store, once on SQLite and once on PostgreSQL (``store`` in conftest.py)."""
    async with open_store(store) as database:
        await database.migrate()
        yield database


async def row(db: Database, job_id: int) -> dict[str, Any]:
    found = await db.fetchone(
        "SELECT state, attempts, locked_by, locked_until, run_after, last_error FROM jobs"
        " WHERE id = ?",
        (job_id,),
    )
    assert found is not None
    return dict(found)


# --- storage: renew and the holder guard ------------------------------------------------------


async def test_renew_extends_only_the_callers_leases(db: Database) -> None:
    for key in ("a1", "a2", "b1"):
        await jobs.enqueue(db, "k", {}, now=T0, dedupe_key=key)
    a1 = await jobs.claim(db, now=T0, lease_seconds=60, locked_by="host:1:a")
    a2 = await jobs.claim(db, now=T0, lease_seconds=60, locked_by="host:1:a")
    b1 = await jobs.claim(db, now=T0, lease_seconds=60, locked_by="host:2:b")
    assert a1 and a2 and b1

    renewed = await jobs.renew(db, locked_by="host:1:a", now=T0 + 50, lease_seconds=60)

    assert renewed == {a1.id, a2.id}
    assert (await row(db, a1.id))["locked_until"] == T0 + 110
    assert (await row(db, a2.id))["locked_until"] == T0 + 110
    assert (await row(db, b1.id))["locked_until"] == T0 + 60


async def test_a_lost_lease_cannot_finish_or_renew_the_new_holders_run(db: Database) -> None:
    await jobs.enqueue(db, "k", {}, now=T0)
    mine = await jobs.claim(db, now=T0, lease_seconds=60, locked_by="host:1:a")
    assert mine is not None
    # The lease lapsed (the process stalled) and another worker took the job over.
    theirs = await jobs.claim(db, now=T0 + 61, lease_seconds=60, locked_by="host:2:b")
    assert theirs is not None and theirs.id == mine.id
    taken = await row(db, mine.id)

    assert await jobs.renew(db, locked_by="host:1:a", now=T0 + 62, lease_seconds=60) == set()
    assert not await jobs.complete(db, mine.id, now=T0 + 62, locked_by="host:1:a")
    assert not await jobs.reschedule(
        db, mine.id, run_after=T0 + 99, error="HTTP 503", now=T0 + 62, locked_by="host:1:a"
    )
    assert not await jobs.fail(db, mine.id, error="HTTP 410", now=T0 + 62, locked_by="host:1:a")
    await jobs.release(db, [mine.id], now=T0 + 62, locked_by="host:1:a")
    await jobs.complete_many(db, [mine.id], now=T0 + 62, locked_by="host:1:a")
    assert await row(db, mine.id) == taken  # untouched: still running for its new holder

    assert await jobs.complete(db, mine.id, now=T0 + 70, locked_by="host:2:b")
    assert (await row(db, mine.id))["state"] == "done"
    # ... and a late finish by the old holder does not undo that either
    assert not await jobs.reschedule(
        db, mine.id, run_after=T0 + 99, error="late", now=T0 + 71, locked_by="host:1:a"
    )
    assert (await row(db, mine.id))["state"] == "done"


async def test_a_lapsed_lease_nobody_took_is_still_the_holders(db: Database) -> None:
    await jobs.enqueue(db, "k", {}, now=T0)
    job = await jobs.claim(db, now=T0, lease_seconds=60, locked_by="host:1:a")
    assert job is not None
    assert await jobs.renew(db, locked_by="host:1:a", now=T0 + 90, lease_seconds=60) == {job.id}
    assert await jobs.claim(db, now=T0 + 120, lease_seconds=60, locked_by="host:2:b") is None
    assert await jobs.complete(db, job.id, now=T0 + 120, locked_by="host:1:a")


# --- workers ----------------------------------------------------------------------------------


async def run_workers(
    states: list[State], handlers: dict[str, Handler], *, lease_seconds: float
) -> tuple[asyncio.Event, list[asyncio.Task[None]]]:
    stop = asyncio.Event()
    workers = [Worker(s, handlers, lease_seconds=lease_seconds) for s in states]
    tasks = [asyncio.create_task(w.run(stop)) for w in workers]
    await asyncio.sleep(0.1)  # each has taken back orphans (before any job exists) and polls
    return stop, tasks


async def test_a_handler_slower_than_the_lease_runs_once_with_two_workers(
    tmp_path: Path,
    store: Path | str,
) -> None:
    """Given two workers on one database and a 0.4 s lease, when a job takes 1.6 s (four
    leases), then it runs exactly once: its worker renews the lease while it runs."""
    config = make_config(tmp_path, store)
    runs: list[str] = []

    async def slow(st: State, payload: dict[str, Any]) -> None:
        runs.append(str(id(st)))
        await asyncio.sleep(1.6)

    async with AsyncExitStack() as stack:
        states = [await stack.enter_async_context(open_state(config)) for _ in range(2)]
        stop, tasks = await run_workers(states, {"slow": slow}, lease_seconds=0.4)
        await jobs.enqueue(states[0].db, "slow", {}, now=states[0].now())
        try:
            for _ in range(300):
                if await jobs.counts(states[0].db) == {"done": 1}:
                    break
                await asyncio.sleep(0.02)
            await asyncio.sleep(0.5)  # more than a lease: a second claim would have happened
        finally:
            stop.set()
            await asyncio.wait_for(asyncio.gather(*tasks), timeout=5)
        [job] = await jobs.list_jobs(states[0].db)
    assert len(runs) == 1
    assert (job.state, job.attempts) == ("done", 1)


async def test_a_worker_that_lost_its_lease_leaves_the_outcome_to_the_new_holder(
    tmp_path: Path, store: Path | str, caplog: pytest.LogCaptureFixture
) -> None:
    """Given a worker whose job was taken over while it stalled, when its handler then fails,
    the retry it would schedule is not written: the new holder's run stands."""
    config = make_config(tmp_path, store)
    clock = Clock()
    started, go_on = asyncio.Event(), asyncio.Event()

    async def stalls(st: State, payload: dict[str, Any]) -> None:
        started.set()
        await go_on.wait()
        raise DeliveryError("HTTP 503")

    async with open_state(config, clock=clock) as state:
        # A long real lease: no heartbeat fires during the test; the takeover is made by the
        # pinned clock jumping past the lease, as after a stall.
        stop, tasks = await run_workers([state], {"x": stalls}, lease_seconds=60)
        await jobs.enqueue(state.db, "x", {}, now=clock.now)
        try:
            await asyncio.wait_for(started.wait(), timeout=5)
            clock.now += 61
            other = await jobs.claim(
                state.db, now=clock.now, lease_seconds=60, locked_by="elsewhere:7:b"
            )
            assert other is not None
            go_on.set()
            for _ in range(250):
                if "failed after another worker took it over" in caplog.text:
                    break
                await asyncio.sleep(0.02)
            assert "failed after another worker took it over" in caplog.text
        finally:
            stop.set()
            await asyncio.wait_for(asyncio.gather(*tasks), timeout=5)
        taken = await row(state.db, other.id)
    assert (taken["state"], taken["locked_by"], taken["attempts"]) == (
        "running",
        "elsewhere:7:b",
        2,
    )
    assert taken["last_error"] is None


async def test_orphans_of_a_dead_worker_are_found_with_instance_ids(
    tmp_path: Path, store: Path | str
) -> None:
    config = make_config(tmp_path, store)
    with subprocess.Popen([sys.executable, "-c", "pass"]) as gone:
        assert gone.wait(timeout=30) == 0
    host = socket.gethostname()
    async with open_state(config) as state:
        for holder in (f"{host}:{gone.pid}:12345678", f"{host}:{os.getppid()}:abcdef01"):
            await jobs.enqueue(state.db, "x", {}, now=state.now(), dedupe_key=holder)
            await jobs.claim(state.db, now=state.now(), lease_seconds=600, locked_by=holder)
        released = await jobs.release_orphans(
            state.db, host=host, alive=lambda pid: pid != gone.pid, now=state.now()
        )
        assert released == 1
        assert await jobs.counts(state.db) == {"pending": 1, "running": 1}
