"""Benchmark 4: web pages with 10,000 posts, timed server-side (in-process ASGI client).

The database is seeded through the publishing service (``publish.publish_note``), as the
CLI and the web UI publish, so that new routes and new columns keep working: 10,000
public notes by the AI actor with hashtags, and one thread of 20 replies. The pages timed
are ``/``, ``/@ai`` and the thread's middle note (its ``url``); add more with
``BENCH_WEB_PATHS="/gallery /tags/bench"``. A page that does not answer 200 is reported
with its status and no timing. The same database is kept in ``.cache/bench-work/web`` and
reused when it already has the posts (``BENCH_WEB_RESEED=1`` rebuilds it).
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from fediverse_ai.app import create_app
from fediverse_ai.config import load_config
from fediverse_ai.federation import publish
from fediverse_ai.models import Draft
from fediverse_ai.state import open_state
from fediverse_ai.storage import actors

from .common import WORK, free_port, percentile, pick, table, write_result
from .instance import config_toml

THREAD = 20


def _db_bytes(path: Path) -> int:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return int(conn.execute("PRAGMA page_count").fetchone()[0]) * int(
            conn.execute("PRAGMA page_size").fetchone()[0]
        )
    finally:
        conn.close()


async def _seed(config_path: Path, posts: int) -> dict[str, Any]:
    config = load_config(config_path)
    async with open_state(config) as state:
        ai = await actors.account_by_role(state.db, "ai")
        assert ai is not None
        have = await state.db.fetchval("SELECT COUNT(*) FROM notes WHERE local = 1")
        started = time.perf_counter()
        before = _db_bytes(Path(config.storage.database))
        for i in range(int(have), posts):
            text = f"Post {i}: a benchmark note with a #bench tag and a few more words to read."
            await publish.publish_note(state, ai, Draft(text=text))
        seeded = time.perf_counter() - started
        root = await state.db.fetchval(
            "SELECT uri FROM notes WHERE in_reply_to_uri IS NULL AND source = 'thread root'"
        )
        if root is None:
            note = await publish.publish_note(state, ai, Draft(text="thread root"))
            parent = note.uri
            for i in range(THREAD):
                reply = await publish.publish_note(
                    state, ai, Draft(text=f"reply {i}", in_reply_to=parent)
                )
                parent = reply.uri
            root = note.uri
        middle = await state.db.fetchval(
            "SELECT url FROM notes WHERE source = ?", (f"reply {THREAD // 2}",)
        )
        await state.db.execute("DELETE FROM jobs")
        total = await state.db.fetchval("SELECT COUNT(*) FROM notes WHERE local = 1")
    return {
        "seed_seconds": seeded,
        "seeded": max(posts - int(have), 0),
        "db_bytes_added": _db_bytes(Path(config.storage.database)) - before,
        # The whole file per local note: the seeded database is kept between runs, so the
        # bytes added by this run are 0 when it was seeded before.
        "db_bytes_per_note": _db_bytes(Path(config.storage.database)) / max(int(total), 1),
        "thread_note_path": urlsplit(str(middle)).path,
    }


async def _measure(config_path: Path, paths: list[str], repeat: int) -> list[dict[str, Any]]:
    app = create_app(load_config(config_path), embedded_worker=False)
    rows = []
    async with app.test_app() as test_app:
        client = test_app.test_client()
        for path in paths:
            response = await client.get(path, headers={"Accept": "text/html"})
            if response.status_code != 200:
                rows.append({"page": path, "status": response.status_code})
                continue
            size = len(await response.get_data())
            for _ in range(5):  # warm-up: templates compiled, caches filled
                await client.get(path, headers={"Accept": "text/html"})
            times = []
            for _ in range(repeat):
                t = time.perf_counter()
                response = await client.get(path, headers={"Accept": "text/html"})
                await response.get_data()
                times.append((time.perf_counter() - t) * 1000)
            rows.append(
                {
                    "page": path,
                    "status": 200,
                    "bytes": size,
                    "p50 ms": percentile(times, 50),
                    "p99 ms": percentile(times, 99),
                    "req/s (1 client)": 1000 * len(times) / sum(times),
                    "target p50<20ms": percentile(times, 50) < 20,
                }
            )
    return rows


def run() -> dict[str, Any]:
    posts = pick(10_000, 2_000)
    root = WORK / f"web-{posts}"
    config_path = root / "config.toml"
    if os.environ.get("BENCH_WEB_RESEED") or not config_path.exists():
        subprocess.run(["rm", "-rf", str(root)], check=True)
        root.mkdir(parents=True)
        config_path.write_text(config_toml(free_port()))
        argv = [sys.executable, "-m", "fediverse_ai", "--config", str(config_path), "init"]
        subprocess.run(argv, check=True, capture_output=True, timeout=120)
    seed = asyncio.run(_seed(config_path, posts))
    paths = ["/", "/@ai", seed["thread_note_path"]]
    paths += os.environ.get("BENCH_WEB_PATHS", "").split()
    rows = asyncio.run(_measure(config_path, paths, pick(200, 50)))
    print(table(f"Web pages, {posts:,} posts (server-side, in-process)", rows))
    data = {
        "posts": posts,
        **seed,
        "db_mb_per_10k_posts": seed["db_bytes_per_note"] * 10_000 / 1e6,
        "rows": rows,
    }
    write_result("web", data)
    return data
