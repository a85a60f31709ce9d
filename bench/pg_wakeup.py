"""Benchmark: LISTEN/NOTIFY wake-ups on PostgreSQL (issue 15, storage/notify.py).

1. Enqueue → claim latency across processes: this process queues jobs one at a time, a
   random 20–120 ms apart (the worker idle in between), and a ``fediverse-ai``-style worker
   in a child process (a real :class:`Worker`, ``worker.concurrency`` 8, the default 1 s poll)
   records when each handler starts. Woken by NOTIFY, and by its polls alone (the child's
   store told not to listen), alternating, on one cluster.
2. What the NOTIFY trigger costs an enqueue: jobs queued per second, one per transaction, by
   one process and by four at once, on a schema with the row-level trigger the code installs,
   one with a statement-level one (the first version), and one without (dropped), in
   alternating order; each schema has a listening process, as a worker would be.

Run: ``python -m bench.pg_wakeup`` (``BENCH_QUICK=1``: fewer jobs; ``BENCH_ROUNDS``, default 2).
PostgreSQL runs in the tests' throw-away cluster (tests/support/postgres.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fediverse_ai.config import parse_config
from fediverse_ai.state import State, open_state
from fediverse_ai.storage import jobs, notify
from fediverse_ai.storage.db import Database
from fediverse_ai.storage.store import open_store
from fediverse_ai.worker import Worker

from .common import QUICK, table, write_result

if TYPE_CHECKING:
    from tests.support.postgres import Cluster

LATENCY_JOBS = 40 if QUICK else 150
ENQUEUES = 500 if QUICK else 2_000
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "2"))
# BENCH_PARTS="latency enqueue" (the default: both).
PARTS = os.environ.get("BENCH_PARTS", "latency enqueue").split()
PROCESSES = 4


async def _child(url: str, mode: str, count: int, out: Path) -> None:
    """The worker process: run ``count`` jobs, writing each one's enqueue → start delay."""
    raw: dict[str, Any] = {
        "instance": {"domain": "localhost:8123", "scheme": "http"},
        "storage": {"database": url, "media_dir": str(out.parent), "keys_dir": str(out.parent)},
    }
    delays: list[float] = []
    done = asyncio.Event()

    async def timed(state: State, payload: dict[str, Any]) -> None:
        delays.append(time.time() - float(payload["t0"]))
        if len(delays) >= count:
            done.set()

    async with open_state(parse_config(raw, base_dir=out.parent)) as state:
        if mode == "poll":
            state.db.notifies = False  # as before this change: polls alone
        worker = Worker(state, {"timed": timed})
        stop = asyncio.Event()
        running = asyncio.create_task(worker.run(stop))
        while mode == "notify" and not worker.wakeups.listening:
            await asyncio.sleep(0.01)
        out.with_suffix(".ready").write_text("ready")
        await done.wait()
        stop.set()
        await running
    out.write_text(json.dumps(delays))


async def _latency(url: str, mode: str, scratch: Path) -> dict[str, Any]:
    out = scratch / f"{mode}-{time.monotonic_ns()}.json"
    argv = [
        sys.executable,
        "-m",
        "bench.pg_wakeup",
        "child",
        url,
        mode,
        str(LATENCY_JOBS),
        str(out),
    ]
    child = subprocess.Popen(argv, cwd=Path(__file__).resolve().parents[1])
    try:
        while not out.with_suffix(".ready").exists():
            assert child.poll() is None, "the worker process died"
            await asyncio.sleep(0.05)
        await asyncio.sleep(1.5)  # every loop has found nothing and waits
        async with open_store(url) as db:
            rng = random.Random(15)
            for _ in range(LATENCY_JOBS):
                await asyncio.sleep(rng.uniform(0.02, 0.12))
                await jobs.enqueue(db, "timed", {"t0": time.time()}, now=time.time())
        await asyncio.to_thread(child.wait, 120)
    finally:
        if child.poll() is None:
            child.terminate()
            child.wait()
    delays = sorted(json.loads(out.read_text()))
    q = statistics.quantiles(delays, n=100)
    return {
        "wake-up": "NOTIFY" if mode == "notify" else "poll (1 s, 8 loops)",
        "jobs": len(delays),
        "p50 ms": round(q[49] * 1000, 1),
        "p95 ms": round(q[94] * 1000, 1),
        "max ms": round(delays[-1] * 1000, 1),
    }


async def _enqueue_rate(url: str, processes: int) -> float:
    """Jobs queued per second, one per transaction, by ``processes`` stores at once."""
    dbs = [open_store(url) for _ in range(processes)]
    async with contextlib.AsyncExitStack() as stack:
        for db in dbs:
            await stack.enter_async_context(db)
        each = ENQUEUES // processes

        async def queue(db: Database, n: int) -> None:
            for i in range(each):
                await jobs.enqueue(db, "rate", {"i": i}, now=time.time())

        started = time.perf_counter()
        await asyncio.gather(*(queue(db, n) for n, db in enumerate(dbs)))
        return each * processes / (time.perf_counter() - started)


# The variant measured against the row-level trigger the code installs: one per statement,
# which looks in a transition table for added rows (an ON CONFLICT DO NOTHING may add none).
_STATEMENT_TRIGGER = (
    "DROP TRIGGER fediverse_ai_notify_jobs ON jobs;"
    " CREATE FUNCTION statement_notify() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
    " IF EXISTS (SELECT 1 FROM added) THEN"
    " PERFORM pg_notify(left('fediverse_ai_jobs.' || TG_TABLE_SCHEMA, 63), ''); END IF;"
    " RETURN NULL; END $$; CREATE TRIGGER statement_notify AFTER INSERT ON jobs"
    " REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION statement_notify()"
)


async def _listen_forever(url: str) -> None:
    async for _ in notify.listen(url, notify.JOBS):
        pass


async def _enqueue_costs(cluster: Cluster) -> list[dict[str, Any]]:
    urls: dict[str, str] = {}
    for name, change in (
        ("none", "DROP TRIGGER fediverse_ai_notify_jobs ON jobs"),
        ("NOTIFY (row)", ""),
        ("NOTIFY (statement)", _STATEMENT_TRIGGER),
    ):
        schema = cluster.new_schema()
        urls[name] = cluster.url(schema)
        async with open_store(urls[name]) as db:
            await db.migrate()
        if change:
            cluster.psql(f"SET search_path = {schema}; {change}")
    rates: dict[tuple[str, int], list[float]] = {}
    # Each schema's listener in a process of its own, as a worker's would be.
    listeners = [
        subprocess.Popen([sys.executable, "-m", "bench.pg_wakeup", "listen", url])
        for url in urls.values()
    ]
    try:
        await asyncio.sleep(1.0)
        for url in urls.values():  # warm-up: connections, caches
            await _enqueue_rate(url, PROCESSES)
        order = list(urls.items())
        for _ in range(ROUNDS):
            order.reverse()  # alternate which goes first
            for processes in (1, PROCESSES):
                for name, url in order:
                    rate = await _enqueue_rate(url, processes)
                    rates.setdefault((name, processes), []).append(rate)
    finally:
        for proc in listeners:
            proc.terminate()
            proc.wait()
    rows = []
    for processes in (1, PROCESSES):
        base = statistics.median(rates[("none", processes)])
        for name in urls:
            got = statistics.median(rates[(name, processes)])
            rows.append(
                {
                    "enqueuers": processes,
                    "trigger": name,
                    "jobs/s (median)": round(got),
                    "runs": " ".join(str(round(r)) for r in rates[(name, processes)]),
                    "× none": round(got / base, 3),
                }
            )
    return rows


async def main() -> dict[str, Any]:
    from tests.support.postgres import postgres_cluster

    with postgres_cluster() as cluster, tempfile.TemporaryDirectory(prefix="bench-wake-") as tmp:
        scratch = Path(tmp)
        latency = []
        for _ in range(ROUNDS if "latency" in PARTS else 0):
            for mode in ("notify", "poll"):
                latency.append(await _latency(cluster.url(cluster.new_schema()), mode, scratch))
        costs = await _enqueue_costs(cluster) if "enqueue" in PARTS else []
    print(table("enqueue → claim across processes", latency))
    print(table("enqueue cost of the NOTIFY trigger", costs))
    result = {"latency": latency, "enqueue": costs, "load": os.getloadavg()}
    write_result("pg_wakeup", result)
    return result


if __name__ == "__main__":
    if sys.argv[1:2] == ["child"]:
        url, mode, count, out = sys.argv[2:6]
        asyncio.run(_child(url, mode, int(count), Path(out)))
    elif sys.argv[1:2] == ["listen"]:
        asyncio.run(_listen_forever(sys.argv[2]))
    else:
        asyncio.run(main())
