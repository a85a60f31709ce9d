"""Benchmark: the Mastodon client API (issue 14), beside the web pages of the same run.

On a database of 10,000 public posts by the AI actor (2,000 with ``BENCH_QUICK``), seeded
through ``publish.publish_note`` as ``bench/web.py`` seeds its own, a local user who follows
the AI reads ``GET /api/v1/timelines/home?limit=40`` and posts ``POST /api/v1/statuses``;
``/`` and ``/@ai`` are timed the same way (in-process ASGI client, server-side time) for
comparison. Then a real uvicorn on loopback holds 1,000 open server-sent-events streams
(``/api/v1/streaming/public/local``, 200 quick), one status is posted, and the time until
the last stream has received its ``update`` is measured (the readers run in the same
process as the server: their CPU is counted in, as a phone's would not be).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import uvicorn

from fediverse_ai.app import create_app
from fediverse_ai.config import load_config
from fediverse_ai.state import open_state
from fediverse_ai.storage import actors, follows, oauth

from .common import WORK, free_port, percentile, pick, table, write_result
from .instance import config_toml
from .web import _seed

USER = "reader"


async def _token(config_path: Path) -> str:
    """A user following the AI, and a token for it (straight from storage: the OAuth flow
    is not what is measured)."""
    from fediverse_ai.accounts import ensure_account

    config = load_config(config_path)
    async with open_state(config) as state:
        account = await ensure_account(state, USER, role="user")
        ai = await actors.account_by_role(state.db, "ai")
        assert ai is not None
        await follows.upsert(
            state.db,
            follower_id=account.actor.id,
            followee_id=ai.actor.id,
            state="accepted",
            uri=None,
            now=state.now(),
        )
        app, _ = await oauth.create_app(
            state.db,
            name="bench",
            website=None,
            redirect_uris=("urn:ietf:wg:oauth:2.0:oob",),
            scopes=("read", "write"),
            now=state.now(),
        )
        issued = await oauth.issue_token(
            state.db,
            app_id=app.id,
            actor_id=account.actor.id,
            scopes=("read", "write"),
            now=state.now(),
        )
        return issued.access_token


def _row(name: str, times: list[float], size: int) -> dict[str, Any]:
    return {
        "request": name,
        "bytes": size,
        "p50 ms": percentile(times, 50),
        "p99 ms": percentile(times, 99),
        "req/s (1 client)": 1000 * len(times) / sum(times),
    }


async def _measure(config_path: Path, token: str, repeat: int) -> list[dict[str, Any]]:
    app = create_app(load_config(config_path), embedded_worker=False)
    auth = {"Authorization": f"Bearer {token}"}
    rows = []
    async with app.test_app() as test_app:
        client = test_app.test_client()
        cases: list[tuple[str, str, dict[str, str]]] = [
            ("GET /api/v1/timelines/home?limit=40", "/api/v1/timelines/home?limit=40", auth),
            ("web GET /", "/", {"Accept": "text/html"}),
            ("web GET /@ai", "/@ai", {"Accept": "text/html"}),
        ]
        for name, path, headers in cases:
            first = await client.get(path, headers=headers)
            assert first.status_code == 200, (path, first.status_code)
            size = len(await first.get_data())
            if name.startswith("GET /api"):
                assert len(await first.get_json()) == 40
            for _ in range(5):
                await client.get(path, headers=headers)
            times = []
            for _ in range(repeat):
                t = time.perf_counter()
                resp = await client.get(path, headers=headers)
                await resp.get_data()
                times.append((time.perf_counter() - t) * 1000)
            rows.append(_row(name, times, size))
        times = []
        for i in range(repeat):
            t = time.perf_counter()
            resp = await client.post(
                "/api/v1/statuses", form={"status": f"bench status {i}"}, headers=auth
            )
            await resp.get_data()
            times.append((time.perf_counter() - t) * 1000)
            assert resp.status_code == 200
        rows.append(_row("POST /api/v1/statuses", times, 0))
    return rows


async def _reader(port: int, token: str, ready: asyncio.Event, count: list[int]) -> float:
    """One SSE stream: connected, then the time its first ``update`` arrived."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(
            (
                "GET /api/v1/streaming/public/local HTTP/1.1\r\nHost: bench\r\n"
                f"Authorization: Bearer {token}\r\nAccept: text/event-stream\r\n\r\n"
            ).encode()
        )
        while not (await reader.readline()).startswith(b":)"):
            pass
        count[0] += 1
        if count[0] == count[1]:
            ready.set()
        while True:
            line = await reader.readline()
            if not line:
                raise ConnectionError("stream closed")
            if line.startswith(b"event: update"):
                return time.perf_counter()
    finally:
        writer.close()


async def _fanout(config_path: Path, token: str, streams: int) -> dict[str, Any]:
    app = create_app(load_config(config_path), embedded_worker=False)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            log_config=None,
            log_level="warning",
            access_log=False,
            ws="wsproto",
            timeout_graceful_shutdown=1,
            backlog=4096,
        )
    )
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            await asyncio.sleep(0.01)
        ready = asyncio.Event()
        count = [0, streams]
        readers = [asyncio.create_task(_reader(port, token, ready, count)) for _ in range(streams)]
        await asyncio.wait_for(ready.wait(), 120)
        r, w = await asyncio.open_connection("127.0.0.1", port)
        body = b"status=fan-out"
        sent = time.perf_counter()
        w.write(
            b"POST /api/v1/statuses HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n"
            + f"Authorization: Bearer {token}\r\nContent-Length: {len(body)}\r\n".encode()
            + b"Content-Type: application/x-www-form-urlencoded\r\n\r\n"
            + body
        )
        status_line = await r.readline()
        answered = time.perf_counter()
        w.close()
        assert b" 200 " in status_line, status_line
        arrivals = await asyncio.wait_for(asyncio.gather(*readers), 120)
        return {
            "streams": streams,
            "POST answered ms": (answered - sent) * 1000,
            "first received ms": (min(arrivals) - sent) * 1000,
            "p50 received ms": percentile([(a - sent) * 1000 for a in arrivals], 50),
            "last received ms": (max(arrivals) - sent) * 1000,
        }
    finally:
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await serving
        sock.close()


def run() -> dict[str, Any]:
    posts = pick(10_000, 2_000)
    root = WORK / f"api-{posts}"
    config_path = root / "config.toml"
    if os.environ.get("BENCH_API_RESEED") or not config_path.exists():
        subprocess.run(["rm", "-rf", str(root)], check=True)
        root.mkdir(parents=True)
        config_path.write_text(config_toml(free_port(), embedded_worker=False))
        argv = [sys.executable, "-m", "fediverse_ai", "--config", str(config_path), "init"]
        subprocess.run(argv, check=True, capture_output=True, timeout=120)
    seed = asyncio.run(_seed(config_path, posts))
    token = asyncio.run(_token(config_path))
    rows = asyncio.run(_measure(config_path, token, pick(200, 50)))
    fanout = asyncio.run(_fanout(config_path, token, pick(1000, 200)))
    print(table(f"Client API and web pages, {posts:,} posts (server-side, in-process)", rows))
    print(table("One status to open SSE streams (uvicorn on loopback)", [fanout]))
    data = {"posts": posts, "seed_seconds": seed["seed_seconds"], "rows": rows, "fanout": fanout}
    write_result("api", data)
    return data
