"""Benchmark 2: fan-out of one post to D distinct inboxes on K local sink processes.

Followers are seeded straight into the tables (remote actors + accepted follows). With
shared-inbox dedupe "off" every follower has only a personal inbox (D followers, D
deliveries); with it "on" 10 followers share each shared inbox (10·D followers, still D
deliveries), so the two differ only in the recipient computation. The AI actor publishes
one note through the publishing service, then the worker (``worker.concurrency`` loops,
as configured) delivers in this process. The RSA-signing limit is measured in the same
run: ``sign_request`` of the same body, single core (the worker is one process).
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from datetime import UTC, datetime
from typing import Any

import httpx
import uvloop

from fediverse_ai.config import load_config
from fediverse_ai.federation import publish
from fediverse_ai.httpsig import sign_request
from fediverse_ai.inbox_client import InboxClient
from fediverse_ai.models import Draft
from fediverse_ai.netguard import NetGuard
from fediverse_ai.state import open_state
from fediverse_ai.storage import actors, jobs
from fediverse_ai.worker import Worker

from . import serve
from .common import WORK, Proc, free_port, pick, ratio, start_server, table, write_result
from .instance import config_toml

SINKS = 2
PER_SHARED = 10


def _start_sinks() -> list[Proc]:
    server = "uvicorn-uvloop" if (serve.BENCH_SITE / "uvloop").is_dir() else "uvicorn"
    procs = []
    for k in range(SINKS):
        port = free_port()
        argv = serve.command(server, "bench.apps:sink", port)
        procs.append(start_server(f"sink-{k}", argv, serve.env_for(server), port))
    return procs


def signing_rate(pem: str, body: bytes, seconds: float = 2.0) -> float:
    """Signatures per second on one core, as a delivery signs them."""
    now = datetime.now(UTC)
    count, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        sign_request(
            "POST",
            f"http://127.0.0.1:1/users/f{count}/inbox",
            {"Content-Type": "application/activity+json"},
            body,
            key_id="https://a.test/users/ai#main-key",
            private_key_pem=pem,
            now=now,
        )
        count += 1
    return count / (time.perf_counter() - started)


async def client_rate(port: int, body: bytes, *, client: str, seconds: float = 1.5) -> float:
    """Unsigned POSTs/s to one sink, 8 at a time, over plain HTTP, through ``client``:
    ``inbox`` (the delivery client) or ``httpx`` (what deliveries used before, and what fetches
    use): what the HTTP client alone allows on one core, beside the signing limit."""
    url = f"http://127.0.0.1:{port}/inbox"
    headers = {"Content-Type": "application/activity+json"}
    guard = NetGuard(allow_private=True)
    lean = InboxClient(lambda: guard, user_agent="bench")
    pooled = httpx.AsyncClient(limits=httpx.Limits(max_connections=8), trust_env=False)

    async def post() -> None:
        if client == "inbox":
            await lean.post(url, headers, body)
        else:
            await pooled.post(url, content=body, headers=headers)

    try:
        for _ in range(20):
            await post()
        count = 0
        deadline = time.perf_counter() + seconds

        async def loop() -> None:
            nonlocal count
            while time.perf_counter() < deadline:
                await post()
                count += 1

        started = time.perf_counter()
        await asyncio.gather(*(loop() for _ in range(8)))
        return count / (time.perf_counter() - started)
    finally:
        await lean.aclose()
        await pooled.aclose()


async def _case(name: str, inboxes: int, shared: bool, ports: list[int]) -> dict[str, Any]:
    root = WORK / f"fanout-{name}"
    subprocess.run(["rm", "-rf", str(root)], check=True)
    root.mkdir(parents=True)
    (root / "config.toml").write_text(config_toml(free_port()))
    argv = [sys.executable, "-m", "fediverse_ai", "--config", str(root / "config.toml"), "init"]
    subprocess.run(argv, check=True, capture_output=True, timeout=120)
    config = load_config(root / "config.toml")
    async with open_state(config) as state:
        ai = await actors.account_by_role(state.db, "ai")
        assert ai is not None
        followers = inboxes * (PER_SHARED if shared else 1)
        now = time.time()
        rows = []
        for i in range(followers):
            port = ports[(i // PER_SHARED if shared else i) % len(ports)]
            base = f"http://127.0.0.1:{port}"
            uri = f"{base}/users/f{i}"
            shared_inbox = f"{base}/inbox/{i // PER_SHARED}" if shared else None
            rows.append((uri, f"f{i}", f"127.0.0.1:{port}", f"{uri}/inbox", shared_inbox, now))
        async with state.db.write() as conn:
            await conn.executemany(
                "INSERT INTO actors (uri, local, username, domain, inbox, shared_inbox, published)"
                " VALUES (?, 0, ?, ?, ?, ?, ?)",
                [r for r in rows],
            )
            await conn.execute(
                "INSERT INTO follows (follower_id, followee_id, state, created_at)"
                " SELECT id, ?, 'accepted', ? FROM actors WHERE local = 0",
                (ai.actor.id, now),
            )
        t0 = time.perf_counter()
        await publish.publish_note(state, ai, Draft(text="Hello, followers! #bench"))
        enqueue_s = time.perf_counter() - t0
        queued = await state.db.fetchval("SELECT COUNT(*) FROM jobs WHERE kind = 'deliver'")
        body = json.loads(
            await state.db.fetchval("SELECT payload FROM jobs WHERE kind = 'deliver' LIMIT 1")
        )["body"]
        limit = signing_rate(await state.private_key(ai), body.encode(), seconds=1.5)
        client_limit = await client_rate(ports[0], body.encode(), client="inbox")
        worker = Worker(state)
        stop = asyncio.Event()
        t1, cpu1 = time.perf_counter(), time.process_time()
        task = asyncio.create_task(worker.run(stop))
        while True:
            left = await jobs.pending_count(state.db, now=time.time())
            if left == 0:
                break
            await asyncio.sleep(0.05)
        deliver_s = time.perf_counter() - t1
        cpu_s = time.process_time() - cpu1  # this process: the worker and its SQLite threads
        stop.set()
        await task
        counts = await jobs.counts(state.db)
    rate = queued / deliver_s
    return {
        "case": name,
        "followers": followers,
        "inboxes": queued,
        "dedupe": "on" if shared else "off",
        "enqueue s": enqueue_s,
        "deliveries/s": rate,
        "sign limit/s": limit,
        "ratio": ratio(rate, limit),
        "client POSTs/s": client_limit,
        "/ client": ratio(rate, client_limit),
        "worker cpu ms/delivery": cpu_s * 1000 / queued,
        "worker busy": cpu_s / deliver_s,
        "failed": counts.get("failed", 0),
        "concurrency": config.worker.concurrency,
    }


def run() -> dict[str, Any]:
    sizes = [pick(1_000, 200), pick(10_000, 1_000)]
    sinks = _start_sinks()
    rows = []
    clients: dict[str, float] = {}
    try:
        ports = [p.port for p in sinks if p.port is not None]
        sample = json.dumps({"type": "Create", "content": "x" * 1200}).encode()
        for name in ("inbox", "httpx"):
            clients[name] = uvloop.run(client_rate(ports[0], sample, client=name))
        print(
            f"  HTTP clients alone: {clients['inbox']:.0f}/s lean, {clients['httpx']:.0f}/s httpx"
        )
        for size in sizes:
            for shared in (False, True):
                name = f"{size}-{'shared' if shared else 'personal'}"
                # uvloop, as `fediverse-ai run` and `fediverse-ai worker` run the worker.
                row = uvloop.run(_case(name, size, shared, ports))
                rows.append(row)
                print(f"  {name}: {row['deliveries/s']:.0f}/s ({row['ratio']:.2f} of signing)")
    finally:
        for proc in sinks:
            proc.stop()
    print(table("Fan-out (one post, deliveries to local sinks)", rows))
    data = {"sinks": SINKS, "client POSTs/s (unsigned, one core)": clients, "rows": rows}
    write_result("fanout", data)
    return data
