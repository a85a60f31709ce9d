"""Benchmark: the store's hot paths on SQLite and on PostgreSQL, in the same run (issue 15).

``python -m bench.storage`` (``BENCH_QUICK=1``: fewer rows). On one store after the other:

* intake's write: one note (with its mention and hashtag rows) per transaction, the shape of
  the inbox's store step (``Database.transaction`` with a sync callback);
* the job loop: ``enqueue_many`` then ``claim(complete=previous)`` until the queue is empty,
  what a worker does per job;
* reads: a note by uri through the reader (SQLite) or the async pool (PostgreSQL).

PostgreSQL runs in a throw-away cluster on loopback with fsync off (tests/support/postgres.py),
so the figures compare the code paths, not the durability settings. ``BENCH_STORES=sqlite``
runs SQLite alone, which works on checkouts from before the PostgreSQL store: that is how
SQLite's figures before and after the change were compared (BENCHMARKS.md, last section).
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests.support.postgres: the tests' throw-away cluster

from fediverse_ai.storage import jobs, notes  # noqa: E402
from fediverse_ai.storage.db import Database  # noqa: E402
from fediverse_ai.storage.notes import NoteRow  # noqa: E402

QUICK = os.environ.get("BENCH_QUICK", "") not in ("", "0")
NOTES = 500 if QUICK else 3000
JOBS = 500 if QUICK else 3000
READS = 1000 if QUICK else 5000
T0 = 1_700_000_000.0


async def _author(db: Database) -> int:
    return await db.execute(
        "INSERT INTO actors (uri, local, username, domain, inbox, public_key_pem, published,"
        " fetched_at) VALUES ('https://remote.example/users/a', 0, 'a', 'remote.example',"
        " 'https://remote.example/users/a/inbox', '', ?, ?)",
        (T0, T0),
    )


def _note(i: int, author: int) -> NoteRow:
    return NoteRow(
        uri=f"https://remote.example/notes/{i}",
        actor_id=author,
        local=False,
        content=f"<p>note {i}</p>",
        visibility="public",
        published=T0 + i,
        published_text="2023-11-14T22:13:20Z",
        mentions=("https://ours.example/users/ai",),
        hashtags=("Bench",),
    )


def _store(row: NoteRow, conn: sqlite3.Connection) -> int | None:
    return notes.insert(conn, row, now=T0)


async def measure(db: Database) -> dict[str, float]:
    await db.migrate()
    author = await _author(db)
    started = time.perf_counter()
    for i in range(NOTES):
        await db.transaction(partial(_store, _note(i, author)))
    stored = time.perf_counter() - started

    batch = [("deliver", {"n": i}, f"bench:{i}") for i in range(JOBS)]
    await jobs.enqueue_many(db, batch, now=T0)
    started = time.perf_counter()
    done, previous = 0, None
    while True:
        job = await jobs.claim(db, now=T0 + 1, lease_seconds=600, complete=previous)
        if job is None:
            break
        previous, done = job.id, done + 1
    claimed = time.perf_counter() - started
    assert done == JOBS, done

    started = time.perf_counter()
    for i in range(READS):
        uri = f"https://remote.example/notes/{i % NOTES}"
        assert await db.fetchone("SELECT id FROM notes WHERE uri = ?", (uri,)) is not None
    read = time.perf_counter() - started
    return {
        "notes stored/s": NOTES / stored,
        "jobs claimed+done/s": JOBS / claimed,
        "reads/s": READS / read,
    }


@contextmanager
def stores(names: list[str]) -> Iterator[dict[str, Callable[[], Database]]]:
    """Each store's opener, its cluster or temp dir cleaned up on the way out."""
    with ExitStack() as stack:
        found: dict[str, Callable[[], Database]] = {}
        scratch = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-store-")))
        if "sqlite" in names:

            def sqlite() -> Database:
                return Database(scratch / "bench.sqlite3")

            found["sqlite"] = sqlite
        if "postgresql" in names:
            from fediverse_ai.storage.pg import PgDatabase
            from tests.support.postgres import postgres_cluster

            cluster = stack.enter_context(postgres_cluster())

            def postgresql() -> Database:
                return PgDatabase(cluster.url(cluster.new_schema()))

            found["postgresql"] = postgresql
        yield found


async def run_all(names: list[str]) -> dict[str, dict[str, float]]:
    results: dict[str, dict[str, float]] = {}
    with stores(names) as openers:
        for name, opener in openers.items():
            async with opener() as db:
                results[name] = await measure(db)
    return results


def main() -> int:
    names = os.environ.get("BENCH_STORES", "sqlite postgresql").split()
    results = asyncio.run(run_all(names))
    print(f"store benchmark ({'quick' if QUICK else 'full'}): {NOTES} notes, {JOBS} jobs")
    metrics = list(next(iter(results.values())))
    print(
        "| metric | "
        + " | ".join(results)
        + (" | PostgreSQL / SQLite |" if len(results) > 1 else " |")
    )
    for metric in metrics:
        cells = [f"{results[n][metric]:,.0f}" for n in results]
        ratio = ""
        if {"sqlite", "postgresql"} <= results.keys():
            ratio = f" {results['postgresql'][metric] / results['sqlite'][metric]:.2f}× |"
        print(f"| {metric} | " + " | ".join(cells) + " |" + ratio)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
