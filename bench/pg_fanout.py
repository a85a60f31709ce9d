"""Fan-out of one post on PostgreSQL with 1 and 2 worker processes, against SQLite's single
worker process and the RSA-signing limit, in the same run (part of bench/pg_scale.py).

F followers (100,000; quick: 10,000) are seeded straight into the tables, ten to a shared
inbox on two local sink processes, so one post makes F/10 deliveries. The workers
(``fediverse-ai worker``) are started and idle first; the clock starts when this process
publishes the note (the enqueue is part of the fan-out) and stops when the last delivery
job is done. The signing limit is ``sign_request`` of the same body in this process, one
core, measured after each case (the workers stopped): N workers can at best reach N times
it, and only with N idle cores.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from fediverse_ai.config import load_config
from fediverse_ai.federation import publish
from fediverse_ai.models import Draft
from fediverse_ai.state import open_state
from fediverse_ai.storage import actors

from . import serve
from .common import Proc, free_port, pick, ratio, start_server, table
from .fanout import signing_rate
from .pg_common import WORKER_EXTRA, Pg, Setup, cpu_of, loadavg

PER_SHARED = 10
SINKS = 2


def _sinks() -> list[Proc]:
    try:
        import httptools  # noqa: F401
        import uvloop  # noqa: F401

        server = "uvicorn-uvloop"
    except ImportError:
        server = "uvicorn"
    procs = []
    for k in range(SINKS):
        port = free_port()
        procs.append(
            start_server(f"pg-sink-{k}", serve.command(server, "bench.apps:sink", port),
                         serve.env_for(server), port)
        )  # fmt: skip
    return procs


async def _seed(setup: Setup, followers: int, ports: list[int]) -> float:
    """Remote followers with their shared inboxes; returns the seconds it took."""
    started = time.perf_counter()
    config = load_config(setup.config)
    async with open_state(config) as state:
        ai = await actors.account_by_role(state.db, "ai")
        assert ai is not None
        now = time.time()
        rows = []
        for i in range(followers):
            box = i // PER_SHARED
            base = f"http://127.0.0.1:{ports[box % len(ports)]}"
            uri = f"{base}/users/f{i}"
            rows.append((uri, f"f{i}", f"127.0.0.1:{ports[box % len(ports)]}", f"{uri}/inbox",
                         f"{base}/inbox/{box}", now))  # fmt: skip
        for k in range(0, len(rows), 20_000):
            async with state.db.write() as conn:
                await conn.executemany(
                    "INSERT INTO actors (uri, local, username, domain, inbox, shared_inbox,"
                    " published) VALUES (?, 0, ?, ?, ?, ?, ?)",
                    rows[k : k + 20_000],
                )
        async with state.db.write() as conn:
            await conn.execute(
                "INSERT INTO follows (follower_id, followee_id, state, created_at)"
                " SELECT id, ?, 'accepted', ? FROM actors WHERE local = 0",
                (ai.actor.id, now),
            )
    return time.perf_counter() - started


async def _publish(setup: Setup) -> tuple[float, float, str, str]:
    """Publish one note; (when the clock started, enqueue seconds, the body, the key PEM)."""
    config = load_config(setup.config)
    async with open_state(config) as state:
        ai = await actors.account_by_role(state.db, "ai")
        assert ai is not None
        t0 = time.time()
        await publish.publish_note(state, ai, Draft(text="Hello, followers! #bench"))
        enqueue_s = time.time() - t0
        payload = await state.db.fetchval("SELECT payload FROM jobs WHERE kind = 'deliver' LIMIT 1")
        pem = (config.storage.keys_dir / ai.key_file).read_text()
    return t0, enqueue_s, json.loads(payload)["body"], pem


def _case(pg: Pg, store: str, workers: int, followers: int, sinks: list[Proc]) -> dict[str, Any]:
    url = None if store == "sqlite" else pg.url()
    setup = Setup(f"pg-fanout-{store}-{workers}", url, False, WORKER_EXTRA).init()
    ports = [p.port for p in sinks if p.port is not None]
    seed_s = asyncio.run(_seed(setup, followers, ports))
    try:
        pool = setup.start_workers(workers)
        time.sleep(1.0)
        load_before = loadavg()
        cpu0 = (cpu_of(pool), pg.cpu_seconds(), cpu_of(sinks))
        t0, enqueue_s, body, pem = asyncio.run(_publish(setup))
        queued = setup.count("SELECT COUNT(*) FROM jobs WHERE kind = 'deliver'")
        finished = setup.wait_jobs("deliver", queued, timeout=pick(1800, 600))
        cpu1 = (cpu_of(pool), pg.cpu_seconds(), cpu_of(sinks))
        failed = setup.count(
            "SELECT COUNT(*) FROM jobs WHERE kind = 'deliver' AND state = 'failed'"
        )
    finally:
        setup.stop()
    work_s, pg_s, sink_s = (b - a for a, b in zip(cpu0, cpu1, strict=True))
    limit = signing_rate(pem, body.encode(), seconds=2.0)
    seconds = finished - t0
    rate = queued / seconds
    return {
        "store": store,
        "workers": workers,
        "followers": followers,
        "deliveries": queued,
        "seed s": seed_s,
        "enqueue s": enqueue_s,
        "fan-out s": seconds,
        "deliveries/s": rate,
        "sign limit/s/core": limit,
        "/ sign limit x workers": ratio(rate, limit * workers),
        "worker cpu ms/dlv": work_s * 1000 / queued,
        "pg cpu ms/dlv": pg_s * 1000 / queued,
        "cpu ms/dlv": (work_s + pg_s) * 1000 / queued,
        "sink cpu ms/dlv": sink_s * 1000 / queued,
        "failed": failed,
        "loadavg": load_before,
    }


def run(pg: Pg) -> dict[str, Any]:
    followers = pick(100_000, 10_000)
    sinks = _sinks()
    rows: list[dict[str, Any]] = []
    try:
        for store, workers in (("sqlite", 1), ("postgresql", 1), ("postgresql", 2)):
            row = _case(pg, store, workers, followers, sinks)
            rows.append(row)
            print(
                f"  fan-out {store} workers={workers}: {row['deliveries/s']:.0f} deliveries/s"
                f" ({row['/ sign limit x workers']:.2f} of signing), {row['cpu ms/dlv']:.2f} ms"
                f" CPU/delivery (load {row['loadavg']})",
                flush=True,
            )
    finally:
        for proc in sinks:
            proc.stop()
    base = rows[0]["deliveries/s"]
    for row in rows:
        row["/ sqlite"] = ratio(row["deliveries/s"], base)
    print(table(f"Fan-out: one post to {followers:,} followers on PostgreSQL vs SQLite", rows))
    return {"sinks": SINKS, "per_shared_inbox": PER_SHARED, "rows": rows}
