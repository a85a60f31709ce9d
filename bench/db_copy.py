"""Benchmark: ``fediverse-ai db copy`` of a 10,000-post SQLite instance into PostgreSQL (issue 15).

``python -m bench.db_copy`` (``BENCH_QUICK=1``: 2,000 posts). A SQLite file gets 10,000 notes
(each with a mention and a hashtag row, so 30,000 rows beside the actor) and 10,000 done jobs,
then :func:`~fediverse_ai.storage.copy.copy_database` copies it into a fresh schema of a
throw-away cluster on loopback (tests/support/postgres.py, fsync off: the figures compare the
copy's own work, not durability) at several ``--batch`` sizes, each on a fresh schema, the
sizes in a rotated order in each of ``BENCH_ROUNDS`` rounds (default 3; the medians are
printed, as this machine's load varies);
``db check`` (the comparison alone, both sides read and hashed) is timed after each round.
"""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests.support.postgres: the tests' throw-away cluster

from fediverse_ai.storage import jobs, notes  # noqa: E402
from fediverse_ai.storage.copy import check_database, copy_database  # noqa: E402
from fediverse_ai.storage.db import Database  # noqa: E402
from fediverse_ai.storage.notes import NoteRow  # noqa: E402

QUICK = os.environ.get("BENCH_QUICK", "") not in ("", "0")
POSTS = 2000 if QUICK else 10_000
BATCHES = (5000, 1000, 100)
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "1" if QUICK else "3"))
T0 = 1_700_000_000.0


async def build(path: Path) -> None:
    db = Database(path)
    await db.open()
    try:
        await db.migrate()
        author = await db.execute(
            "INSERT INTO actors (uri, local, username, domain, inbox, public_key_pem, published,"
            " fetched_at) VALUES ('https://ours.example/users/ai', 1, 'ai', 'ours.example',"
            " 'https://ours.example/users/ai/inbox', '', ?, ?)",
            (T0, T0),
        )

        def store(conn: sqlite3.Connection) -> None:
            for i in range(POSTS):
                row = NoteRow(
                    uri=f"https://ours.example/notes/{i}",
                    actor_id=author,
                    local=True,
                    content=f"<p>post {i} 🎉 with some text to copy, as a short post has</p>",
                    visibility="public",
                    published=T0 + i,
                    published_text="2023-11-14T22:13:20Z",
                    mentions=("https://remote.example/users/a",),
                    hashtags=("Bench",),
                )
                notes.insert(conn, row, now=T0 + i)

        await db.transaction(store)
        await jobs.enqueue_many(
            db, [("deliver", {"n": i}, f"bench:{i}") for i in range(POSTS)], now=T0
        )
    finally:
        await db.close()


def _median(runs: list[dict[str, Any]], key: str) -> float:
    return round(float(statistics.median(r["phases"][key] for r in runs)), 3)


def main() -> dict[str, Any]:
    from tests.support.postgres import postgres_cluster

    runs: dict[int, list[dict[str, Any]]] = {b: [] for b in BATCHES}
    checks: list[float] = []
    rows = 0
    with tempfile.TemporaryDirectory() as tmp, postgres_cluster() as cluster:
        path = Path(tmp) / "instance.sqlite3"
        asyncio.run(build(path))
        for n in range(ROUNDS):
            url = ""
            for batch in BATCHES[n % len(BATCHES) :] + BATCHES[: n % len(BATCHES)]:
                url = cluster.url(cluster.new_schema())
                result = copy_database(path, url, batch=batch)
                assert all(c.ok for c in result.checks), result.checks
                rows = result.rows_copied
                runs[batch].append({"phases": dict(result.seconds)})
            started = time.perf_counter()
            assert all(c.ok for c in check_database(path, url))
            checks.append(time.perf_counter() - started)
    out: dict[str, Any] = {"posts": POSTS, "rows": rows, "rounds": ROUNDS, "copies": []}
    for batch in BATCHES:
        phases = {k: _median(runs[batch], k) for k in ("migrate", "copy", "check")}
        out["copies"].append({"batch": batch, "median": phases,
                              "rows_per_s": round(rows / phases["copy"])})  # fmt: skip
    out["check_seconds"] = round(statistics.median(checks), 3)
    best = out["copies"][0]["median"]["copy"]
    print(f"{POSTS} posts, {rows} rows in all; median seconds per phase of {ROUNDS} rounds")
    head = ("batch", "migrate", "copy", "check", "rows/s")
    print("  ".join(f"{h:>{6 if h == 'batch' else 7}}" for h in head) + f"  {'copy × 5000':>11}")
    for c in out["copies"]:
        p = c["median"]
        print(
            f"{c['batch']:>6}  {p['migrate']:>7}  {p['copy']:>7}  {p['check']:>7}"
            f"  {c['rows_per_s']:>7}  {p['copy'] / best:>11.2f}"
        )
    print(
        f"db check alone: {out['check_seconds']} s ({out['check_seconds'] / best:.2f} × the copy)"
    )
    return out


if __name__ == "__main__":
    print(json.dumps(main()))
