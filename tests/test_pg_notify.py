"""LISTEN/NOTIFY wake-ups on PostgreSQL (issue 15, storage/notify.py): a job queued or a stream
event stored through another connection, as another process would, wakes a worker and a stream
reader whose polls are an hour apart; a LISTEN connection killed by the server is opened again.

Each "other process" here is a second :class:`PgDatabase` (connections of its own); the test
across real processes is in tests/test_processes_stream.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from support.postgres import Cluster

from fediverse_ai.config import parse_config
from fediverse_ai.state import State, open_state
from fediverse_ai.storage import jobs, notify
from fediverse_ai.storage.db import Database
from fediverse_ai.storage.store import open_store
from fediverse_ai.streams import Broker, Notice
from fediverse_ai.worker import Worker

HOUR = 3600.0
TIMEOUT = 30.0


async def wait_until(check: Callable[[], Awaitable[bool]], what: str) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not await check():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


@pytest.fixture
def url(pg_cluster: Cluster) -> str:
    return pg_cluster.url(pg_cluster.new_schema())


@pytest.fixture
async def state(tmp_path: Path, url: str) -> AsyncIterator[State]:
    raw: dict[str, Any] = {
        "instance": {"domain": "localhost:8123", "scheme": "http"},
        "storage": {"database": url, "media_dir": "media", "keys_dir": "keys"},
        # Polls an hour apart: only a notification can bring the job in time.
        "worker": {"concurrency": 3, "poll_interval_seconds": HOUR},
    }
    raw["storage"]["notify_fallback_seconds"] = HOUR
    async with open_state(parse_config(raw, base_dir=tmp_path)) as opened:
        yield opened


@pytest.fixture
async def second(state: State) -> AsyncIterator[State]:
    """Another process's state on the same database (and config)."""
    async with open_state(state.config) as opened:
        yield opened


@pytest.fixture
async def other(url: str) -> AsyncIterator[Database]:
    """The database as another process opens it: connections of its own."""
    async with open_store(url) as db:
        yield db


async def listeners(pg_cluster: Cluster) -> set[int]:
    out = await asyncio.to_thread(
        pg_cluster.psql,
        "SELECT pid FROM pg_stat_activity"
        f" WHERE application_name = '{notify.APPLICATION_NAME}' AND query LIKE 'LISTEN%'",
    )
    return {int(line) for line in out.split()}


class Ran:
    """A handler that records the jobs it ran."""

    def __init__(self) -> None:
        self.seen: list[int] = []

    async def __call__(self, state: State, payload: dict[str, Any]) -> None:
        self.seen.append(int(payload["n"]))


@contextlib.asynccontextmanager
async def listening(state: State, ran: Ran) -> AsyncIterator[Worker]:
    """A worker running ``ran`` for ``noted`` jobs, once it listens; stopped on the way out."""
    worker = Worker(state, {"noted": ran})
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run(stop))
    try:
        await wait_until(lambda: _true(worker.wakeups.listening), "the worker to listen")
        yield worker
        assert not running.done()
    finally:
        stop.set()
        await asyncio.wait_for(running, timeout=10)


async def test_a_job_queued_by_another_connection_wakes_a_worker_polling_hourly(
    state: State, second: State, other: Database
) -> None:
    # Given two worker processes whose loops wait an hour between polls, listening
    ran = Ran()
    async with listening(state, ran), listening(second, ran):
        await asyncio.sleep(0.2)  # their loops have claimed nothing and sleep
        # When another process queues jobs: one, then a fan-out of six in one transaction
        assert await jobs.enqueue(other, "noted", {"n": 1}, now=state.now())
        await wait_until(lambda: _true(ran.seen == [1]), "the first job to run")
        await jobs.enqueue_many(
            other, [("noted", {"n": n}, None) for n in range(2, 8)], now=state.now()
        )
        # Then each runs, once (both workers were woken), long before any poll
        await wait_until(lambda: _equal(jobs.counts(state.db), {"done": 7}), "every job to be done")
        assert sorted(ran.seen) == list(range(1, 8))


async def test_a_killed_listen_connection_is_opened_again(
    state: State, other: Database, pg_cluster: Cluster
) -> None:
    ran = Ran()
    async with listening(state, ran) as worker:
        before = await listeners(pg_cluster)
        assert before
        # When the server ends the LISTEN connection (a restart, an admin)
        killed = ",".join(str(pid) for pid in before)
        await asyncio.to_thread(
            pg_cluster.psql,
            f"SELECT pg_terminate_backend(pid) FROM unnest('{{{killed}}}'::int[]) pid",
        )

        async def listening_again() -> bool:
            now = await listeners(pg_cluster)
            return bool(now - before) and worker.wakeups.listening

        # Then the worker listens again on a new connection, and is still woken
        await wait_until(listening_again, "a new LISTEN connection")
        assert await jobs.enqueue(other, "noted", {"n": 7}, now=state.now())
        await wait_until(lambda: _true(ran.seen == [7]), "the job to run")


async def test_a_stream_event_stored_by_another_connection_wakes_the_reader(
    state: State, other: Database
) -> None:
    # Given a reader that polls hourly, following the others' events
    reader = Broker(db=state.db, poll_seconds=HOUR, fallback_seconds=HOUR)
    publisher = Broker(db=other, poll_seconds=HOUR, fallback_seconds=HOUR)
    sub = reader.subscribe()
    try:
        await asyncio.wait_for(reader.following.wait(), TIMEOUT)
        # When another process publishes a notification
        publisher.notify(Notice(recipient_id=5, kind="follow", actor_id=9, note_id=None, at=1.0))
        await publisher.flush()
        # Then the reader's stream has it
        got = await sub.next(idle_after=TIMEOUT)
        assert got == Notice(5, "follow", 9, None, 1.0)
    finally:
        sub.close()
        reader.close()
        publisher.close()


async def test_notifications_are_per_schema(pg_cluster: Cluster, url: str) -> None:
    # Two instances (or two tests) in one database: a job queued in one schema wakes
    # the listeners of that schema only.
    async with (
        open_store(url) as mine,
        open_store(pg_cluster.url(pg_cluster.new_schema())) as theirs,
    ):
        await mine.migrate()
        await theirs.migrate()
        heard: list[notify.Heard] = []

        async def collect() -> None:
            async for item in mine.listen(notify.JOBS):
                heard.append(item)

        task = asyncio.create_task(collect())
        try:
            await wait_until(lambda: _true(bool(heard)), "the listener to connect")
            assert heard == [notify.Heard(None, listening=True)]
            await jobs.enqueue(theirs, "x", {}, now=1.0)
            await jobs.enqueue(mine, "x", {}, now=1.0, dedupe_key="d")
            await jobs.enqueue(mine, "x", {}, now=1.0, dedupe_key="d")  # adds nothing
            await wait_until(lambda: _true(len(heard) == 2), "the notification")
            await asyncio.sleep(0.3)  # nothing else arrives
            assert heard[1:] == [notify.Heard("", listening=True)]
        finally:
            task.cancel()


async def _true(value: bool) -> bool:
    return value


async def _equal(got: Awaitable[object], expected: object) -> bool:
    return await got == expected


async def test_a_job_due_later_runs_at_its_time_not_at_the_safety_poll(
    state: State, other: Database
) -> None:
    # A retry or a delayed federation is not left for the hourly safety poll: an idle loop
    # that is woken by NOTIFY waits until the next pending job comes due.
    ran = Ran()
    fast = dataclasses.replace(state.config.worker, poll_interval_seconds=0.05)
    state.config = dataclasses.replace(state.config, worker=fast)
    async with listening(state, ran):
        soon = time.time() + 1.0
        assert await jobs.enqueue(other, "noted", {"n": 3}, now=time.time(), run_after=soon)
        await wait_until(lambda: _true(ran.seen == [3]), "the delayed job to run")
