"""The worker on a real State and the suite's store (a SQLite file, or a PostgreSQL schema on a
PostgreSQL run): completion, retries, leases, drain, stop."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from support.stores import suite_database

from fediverse_ai.config import WorkerConfig, parse_config
from fediverse_ai.errors import BadRequest, DeliveryError
from fediverse_ai.federation.inbox import INBOX
from fediverse_ai.federation.trigger import AI_REPLY
from fediverse_ai.models import Job
from fediverse_ai.retry import MAX_ATTEMPTS, MAX_RETRY_AFTER, next_run
from fediverse_ai.state import State, open_state
from fediverse_ai.storage import jobs
from fediverse_ai.worker import ATTEMPTS, Handler, Worker

T0 = 1_700_000_000.0
JITTER = 0.25
LEASE_SECONDS = WorkerConfig().lease_seconds  # the default of [worker] lease_seconds


class Clock:
    """A clock the test moves by hand; State reads it through ``state.now()``."""

    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def config_raw() -> dict[str, Any]:
    return {
        "instance": {"domain": "localhost:8123", "scheme": "http"},
        "storage": {
            "database": suite_database("data/db.sqlite3"),
            "media_dir": "media",
            "keys_dir": "keys",
        },
        "worker": {"concurrency": 2, "poll_interval_seconds": 0.05},
    }


@pytest.fixture
async def state(tmp_path: Path, clock: Clock, config_raw: dict[str, Any]) -> AsyncIterator[State]:
    config = parse_config(config_raw, base_dir=tmp_path)
    async with open_state(config, clock=clock) as opened:
        yield opened


def worker(state: State, handlers: dict[str, Handler]) -> Worker:
    return Worker(state, handlers, jitter=lambda: JITTER)


async def test_the_lease_is_the_configured_one(tmp_path: Path, config_raw: dict[str, Any]) -> None:
    # A short lease lets another machine's worker take a dead worker's jobs over sooner.
    config_raw["worker"]["lease_seconds"] = 5
    async with open_state(parse_config(config_raw, base_dir=tmp_path)) as state:
        assert Worker(state).lease_seconds == 5.0
        assert Worker(state, lease_seconds=2.5).lease_seconds == 2.5


async def only_job(state: State) -> Job:
    [job] = await jobs.list_jobs(state.db)
    return job


def raising(exc: Exception) -> Handler:
    async def handler(state: State, payload: dict[str, Any]) -> None:
        raise exc

    return handler


def expected_retry(attempts: int, now: float, retry_after: float | None = None) -> float:
    when = next_run(
        attempts,
        now=datetime.fromtimestamp(now, UTC),
        jitter=JITTER,
        retry_after=timedelta(seconds=retry_after) if retry_after is not None else None,
    )
    assert when is not None
    return when.timestamp()


async def test_success_completes_the_job(state: State) -> None:
    seen: list[dict[str, Any]] = []

    async def handler(st: State, payload: dict[str, Any]) -> None:
        assert st is state
        seen.append(payload)

    await jobs.enqueue(state.db, "greet", {"to": "alice"}, now=state.now())
    assert await worker(state, {"greet": handler}).run_once()
    assert seen == [{"to": "alice", "_attempt": 1}]  # the payload, and which attempt this is
    job = await only_job(state)
    assert (job.state, job.attempts, job.last_error) == ("done", 1, None)


async def test_run_once_without_due_work(state: State, clock: Clock) -> None:
    await jobs.enqueue(state.db, "greet", {}, now=clock.now, run_after=clock.now + 10)
    assert not await worker(state, {}).run_once()
    assert (await only_job(state)).state == "pending"


async def test_permanent_delivery_error_fails_at_once(state: State) -> None:
    await jobs.enqueue(state.db, "deliver", {}, now=state.now())
    w = worker(state, {"deliver": raising(DeliveryError("HTTP 410", permanent=True))})
    assert await w.run_once()
    job = await only_job(state)
    assert (job.state, job.attempts, job.last_error) == ("failed", 1, "HTTP 410")


async def test_bad_request_is_permanent_too(state: State) -> None:
    await jobs.enqueue(state.db, "inbox", {}, now=state.now())
    assert await worker(state, {"inbox": raising(BadRequest("no actor"))}).run_once()
    assert (await only_job(state)).state == "failed"


async def test_unknown_kind_fails(state: State) -> None:
    await jobs.enqueue(state.db, "mystery", {}, now=state.now())
    assert await worker(state, {}).run_once()
    job = await only_job(state)
    assert (job.state, job.last_error) == ("failed", "no handler for mystery")


@pytest.mark.parametrize(
    ("exc", "message"),
    [
        (DeliveryError("HTTP 503"), "HTTP 503"),
        (OSError("connection reset"), "OSError: connection reset"),
        (RuntimeError("bug"), "RuntimeError: bug"),
    ],
)
async def test_transient_errors_reschedule_following_next_run(
    state: State, clock: Clock, exc: Exception, message: str
) -> None:
    await jobs.enqueue(state.db, "deliver", {}, now=clock.now)
    w = worker(state, {"deliver": raising(exc)})
    assert await w.run_once()
    job = await only_job(state)
    assert (job.state, job.attempts, job.last_error) == ("pending", 1, message)
    assert job.run_after == pytest.approx(expected_retry(1, clock.now))
    assert job.run_after > clock.now

    # not before its time; at its time it runs again and backs off further
    clock.now = job.run_after - 0.5
    assert not await w.run_once()
    clock.now = job.run_after
    assert await w.run_once()
    again = await only_job(state)
    assert again.attempts == 2
    assert again.run_after == pytest.approx(expected_retry(2, clock.now))


@pytest.mark.parametrize(
    ("retry_after", "delay"),
    [
        (3600.0, 3600.0),  # later than our backoff: the peer's wish wins
        (1.0, None),  # sooner than our backoff: the backoff wins
        (10 * 86400.0, MAX_RETRY_AFTER.total_seconds()),  # capped at a day
    ],
)
async def test_retry_after_is_honoured(
    state: State, clock: Clock, retry_after: float, delay: float | None
) -> None:
    await jobs.enqueue(state.db, "deliver", {}, now=clock.now)
    w = worker(state, {"deliver": raising(DeliveryError("429", retry_after=retry_after))})
    assert await w.run_once()
    job = await only_job(state)
    assert job.state == "pending"
    assert job.run_after == pytest.approx(expected_retry(1, clock.now, retry_after))
    if delay is not None:
        assert job.run_after == pytest.approx(clock.now + delay)
    else:
        assert job.run_after == pytest.approx(expected_retry(1, clock.now))


@pytest.mark.parametrize(("kind", "limit"), [("deliver", MAX_ATTEMPTS), (INBOX, ATTEMPTS[INBOX])])
async def test_after_the_last_attempt_the_job_fails(
    state: State, clock: Clock, kind: str, limit: int
) -> None:
    calls = 0

    async def flaky(st: State, payload: dict[str, Any]) -> None:
        nonlocal calls
        calls += 1
        raise DeliveryError(f"HTTP 502 #{calls}")

    w = worker(state, {kind: flaky})
    await jobs.enqueue(state.db, kind, {}, now=clock.now)
    for attempt in range(1, limit + 1):
        job = await only_job(state)
        assert job.state == "pending", f"attempt {attempt}"
        clock.now = job.run_after
        assert await w.run_once()
    job = await only_job(state)
    assert (job.state, job.attempts, job.last_error) == ("failed", limit, f"HTTP 502 #{limit}")
    assert calls == limit
    clock.advance(10 * 86400)
    assert not await w.run_once()


async def test_a_job_of_a_killed_worker_is_picked_up_after_its_lease(
    tmp_path: Path, clock: Clock, config_raw: dict[str, Any]
) -> None:
    config = parse_config(config_raw, base_dir=tmp_path)
    started = asyncio.Event()
    runs: list[str] = []

    async def hangs(st: State, payload: dict[str, Any]) -> None:
        runs.append("first")
        started.set()
        await asyncio.Event().wait()  # the process dies while this runs

    async def finishes(st: State, payload: dict[str, Any]) -> None:
        runs.append("second")

    async with open_state(config, clock=clock) as doomed, open_state(config, clock=clock) as fresh:
        await jobs.enqueue(doomed.db, "deliver", {"inbox": "x"}, now=clock.now)
        task = asyncio.create_task(worker(doomed, {"deliver": hangs}).run_once())
        await asyncio.wait_for(started.wait(), timeout=5)
        task.cancel()  # killed: no complete, no reschedule, the lease stays
        with contextlib.suppress(asyncio.CancelledError):
            await task
        job = await only_job(fresh)
        assert (job.state, job.attempts) == ("running", 1)

        survivor = worker(fresh, {"deliver": finishes})
        clock.advance(LEASE_SECONDS - 1)
        assert not await survivor.run_once()
        clock.advance(2)
        assert await survivor.run_once()
        job = await only_job(fresh)
        assert (job.state, job.attempts) == ("done", 2)
        assert runs == ["first", "second"]


async def test_drain_returns_how_many_jobs_ran(state: State, clock: Clock) -> None:
    async def ok(st: State, payload: dict[str, Any]) -> None:
        return None

    w = worker(state, {"ok": ok, "bad": raising(DeliveryError("no", permanent=True))})
    for i in range(5):
        await jobs.enqueue(state.db, "ok", {"i": i}, now=clock.now)
    await jobs.enqueue(state.db, "bad", {}, now=clock.now)
    await jobs.enqueue(state.db, "ok", {"later": True}, now=clock.now, run_after=clock.now + 60)
    assert await w.drain() == 6
    assert await w.drain() == 0
    assert await jobs.counts(state.db) == {"done": 5, "failed": 1, "pending": 1}
    clock.advance(60)
    assert await w.drain() == 1


async def test_drain_stops_at_max_jobs(state: State) -> None:
    async def ok(st: State, payload: dict[str, Any]) -> None:
        return None

    for _ in range(3):
        await jobs.enqueue(state.db, "ok", {}, now=state.now())
    assert await worker(state, {"ok": ok}).drain(max_jobs=2) == 2
    assert await jobs.counts(state.db) == {"done": 2, "pending": 1}


async def test_run_processes_jobs_until_stopped(state: State) -> None:
    handled: list[int] = []

    async def record(st: State, payload: dict[str, Any]) -> None:
        handled.append(payload["n"])

    async def all_done() -> None:
        while await jobs.counts(state.db) != {"done": 4}:
            await asyncio.sleep(0.01)

    w = worker(state, {"n": record})
    stop = asyncio.Event()
    running = asyncio.create_task(w.run(stop))
    for n in range(4):
        await jobs.enqueue(state.db, "n", {"n": n}, now=state.now())
    w.wake()
    await asyncio.wait_for(all_done(), timeout=10)
    stop.set()
    await asyncio.wait_for(running, timeout=2)
    assert sorted(handled) == [0, 1, 2, 3]
    assert await jobs.counts(state.db) == {"done": 4}


async def test_a_finished_job_is_recorded_by_the_next_claim_in_one_transaction(
    state: State,
) -> None:
    await jobs.enqueue(state.db, "n", {"n": 1}, now=state.now())
    await jobs.enqueue(state.db, "n", {"n": 2}, now=state.now())
    first = await jobs.claim(state.db, now=state.now(), lease_seconds=LEASE_SECONDS)
    assert first is not None
    second = await jobs.claim(
        state.db, now=state.now(), lease_seconds=LEASE_SECONDS, complete=first.id
    )
    assert second is not None and second.id != first.id
    assert await jobs.counts(state.db) == {"done": 1, "running": 1}
    # nothing left to claim: the completion is still recorded
    assert (
        await jobs.claim(state.db, now=state.now(), lease_seconds=LEASE_SECONDS, complete=second.id)
        is None
    )
    assert await jobs.counts(state.db) == {"done": 2}


async def test_a_stop_right_after_a_job_finished_marks_it_done_not_pending(
    state: State,
) -> None:
    # The loop records a finished job with its next claim; a stop in between must not hand
    # the finished job back (it would run twice).
    finished = asyncio.Event()
    stop = asyncio.Event()

    async def last(st: State, payload: dict[str, Any]) -> None:
        stop.set()  # the loop sees the stop before its next claim
        finished.set()

    await jobs.enqueue(state.db, "last", {}, now=state.now())
    await asyncio.wait_for(worker(state, {"last": last}).run(stop), timeout=5)
    assert finished.is_set()
    assert await jobs.counts(state.db) == {"done": 1}


async def test_answers_never_hold_more_loops_than_the_ai_has_slots(
    tmp_path: Path, config_raw: dict[str, Any]
) -> None:
    # Four loops, one generation slot: three mentions must leave three loops for other work.
    config_raw["worker"]["concurrency"] = 4
    config_raw["ai"] = {"limits": {"concurrency": 1}}
    config = parse_config(config_raw, base_dir=tmp_path)
    release = asyncio.Event()
    answering: list[int] = []
    other_done = asyncio.Event()

    async def answer(st: State, payload: dict[str, Any]) -> None:
        answering.append(payload["n"])
        await release.wait()

    async def other(st: State, payload: dict[str, Any]) -> None:
        other_done.set()

    async with open_state(config) as state:
        for n in range(3):
            await jobs.enqueue(state.db, AI_REPLY, {"n": n}, now=state.now() - 10)
        await jobs.enqueue(state.db, "other", {}, now=state.now())
        stop = asyncio.Event()
        w = worker(state, {AI_REPLY: answer, "other": other})
        running = asyncio.create_task(w.run(stop))
        await asyncio.wait_for(other_done.wait(), timeout=5)
        await asyncio.sleep(0.2)  # every loop has had its chance to claim
        assert answering == [0]
        assert await jobs.counts(state.db) == {"running": 1, "pending": 2, "done": 1}
        release.set()
        while await jobs.counts(state.db) != {"done": 4}:
            await asyncio.sleep(0.02)
        stop.set()
        await asyncio.wait_for(running, timeout=2)
    assert answering == [0, 1, 2]


async def test_work_queued_in_the_process_wakes_as_many_idle_loops(
    tmp_path: Path, config_raw: dict[str, Any]
) -> None:
    # Deliveries and answers queued by this process start at once, on as many loops as jobs,
    # not at the idle loops' next poll (an hour here).
    config_raw["worker"].update(poll_interval_seconds=3600, concurrency=4)
    config = parse_config(config_raw, base_dir=tmp_path)
    started: list[int] = []
    all_three = asyncio.Event()

    async def together(st: State, payload: dict[str, Any]) -> None:
        started.append(payload["n"])
        if len(started) == 3:
            all_three.set()
        await all_three.wait()  # each holds its loop until all three run at once

    async with open_state(config) as state:
        stop = asyncio.Event()
        running = asyncio.create_task(worker(state, {"together": together}).run(stop))
        await asyncio.sleep(0.2)  # every loop found nothing and sleeps
        for n in range(3):
            await jobs.enqueue(state.db, "together", {"n": n}, now=state.now())
        state.work_queued(3)
        await asyncio.wait_for(all_three.wait(), timeout=5)
        stop.set()
        await asyncio.wait_for(running, timeout=2)
        assert state.wakers == []  # a stopped worker is no longer woken
    assert sorted(started) == [0, 1, 2]


async def test_run_stops_promptly_even_with_a_long_poll_interval(
    tmp_path: Path, config_raw: dict[str, Any]
) -> None:
    config_raw["worker"]["poll_interval_seconds"] = 3600
    config = parse_config(config_raw, base_dir=tmp_path)
    async with open_state(config) as state:
        stop = asyncio.Event()
        running = asyncio.create_task(worker(state, {}).run(stop))
        await asyncio.sleep(0.2)  # every loop found nothing and sleeps for an hour
        assert not running.done()
        loop = asyncio.get_running_loop()
        stopped_at = loop.time()
        stop.set()
        await asyncio.wait_for(running, timeout=2)
        assert loop.time() - stopped_at < 1
        # the database is still usable afterwards
        assert await jobs.enqueue(state.db, "after", {}, now=state.now())


async def test_a_clean_stop_mid_job_hands_the_job_back(state: State, clock: Clock) -> None:
    started = asyncio.Event()

    async def slow(st: State, payload: dict[str, Any]) -> None:
        started.set()
        await asyncio.sleep(3600)

    stop = asyncio.Event()
    await jobs.enqueue(state.db, "slow", {}, now=clock.now - 60)
    running = asyncio.create_task(worker(state, {"slow": slow}).run(stop))
    await asyncio.wait_for(started.wait(), timeout=5)
    stop.set()
    await asyncio.wait_for(running, timeout=2)
    # due at once, without waiting for the lease, and the interrupted attempt not counted
    job = await only_job(state)
    assert (job.state, job.attempts, job.run_after) == ("pending", 0, clock.now)
    claimed = await jobs.claim(state.db, now=clock.now, lease_seconds=LEASE_SECONDS)
    assert claimed is not None and claimed.attempts == 1


async def test_run_takes_back_jobs_of_dead_processes_on_this_host(
    state: State, clock: Clock
) -> None:
    with subprocess.Popen([sys.executable, "-c", "pass"]) as gone:  # a worker that was killed
        assert gone.wait(timeout=30) == 0
    host = socket.gethostname()
    holders = {
        "dead": f"{host}:{gone.pid}",
        "alive": f"{host}:{os.getppid()}",  # another live process on this host
        "remote": "elsewhere.example:42",  # another host: only its lease tells
    }
    for name, holder in holders.items():
        await jobs.enqueue(state.db, "x", {"holder": name}, now=clock.now, dedupe_key=name)
        job = await jobs.claim(state.db, now=clock.now, lease_seconds=LEASE_SECONDS)
        assert job is not None
        await state.db.execute("UPDATE jobs SET locked_by = ? WHERE id = ?", (holder, job.id))
    ran: list[str] = []

    async def record(st: State, payload: dict[str, Any]) -> None:
        ran.append(payload["holder"])

    async def one_done() -> None:
        while "done" not in await jobs.counts(state.db):
            await asyncio.sleep(0.01)

    stop = asyncio.Event()
    running = asyncio.create_task(worker(state, {"x": record}).run(stop))
    await asyncio.wait_for(one_done(), timeout=5)
    stop.set()
    await asyncio.wait_for(running, timeout=2)
    # only the dead process's job ran; the others keep their lease (the clock did not move)
    assert ran == ["dead"]
    assert await jobs.counts(state.db) == {"done": 1, "running": 2}
