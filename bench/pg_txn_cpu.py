"""Benchmark: wall and client CPU per PostgreSQL write transaction (issue 15).

``python -m bench.pg_txn_cpu``: in a throw-away cluster (tests/support/postgres.py), the
worker's claim with ``complete=`` (two RETURNING statements, both read) and intake's note
transaction (an INSERT read for its id, then link rows nobody reads), each ``BENCH_N`` times
(2,000). CPU is this process's (``time.process_time``), so the server's share is left out.
Run it on two checkouts one after the other, a few times, to compare a change to
``storage/pg.py`` (BENCHMARKS.md, "Pipelined write transactions").
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests.support.postgres: the tests' throw-away cluster

from bench.storage import _author, _note, _store  # noqa: E402
from fediverse_ai.storage import jobs  # noqa: E402
from fediverse_ai.storage.pg import PgDatabase  # noqa: E402

N = int(os.environ.get("BENCH_N", "2000"))
WARM = 50  # until psycopg prepares the statements (after 5 runs each)


async def measure(url: str) -> str:
    async with PgDatabase(url) as db:
        await db.migrate()
        author = await _author(db)
        await jobs.enqueue_many(
            db, [("deliver", {"n": i}, f"b:{i}") for i in range(N + WARM)], now=1.0
        )
        previous: int | None = None

        async def claim() -> None:
            nonlocal previous
            job = await jobs.claim(db, now=2.0, lease_seconds=600, complete=previous)
            assert job is not None
            previous = job.id

        for _ in range(WARM):
            await claim()
        wall, cpu = time.perf_counter(), time.process_time()
        for _ in range(N):
            await claim()
        claim_wall, claim_cpu = time.perf_counter() - wall, time.process_time() - cpu
        wall, cpu = time.perf_counter(), time.process_time()
        for i in range(N):
            await db.transaction(partial(_store, _note(i, author)))
        note_wall, note_cpu = time.perf_counter() - wall, time.process_time() - cpu
    ms = 1000 / N
    return (
        f"claim+complete: wall {claim_wall * ms:.3f} ms, client CPU {claim_cpu * ms:.3f} ms |"
        f" note stored: wall {note_wall * ms:.3f} ms, client CPU {note_cpu * ms:.3f} ms"
    )


def main() -> int:
    from tests.support.postgres import postgres_cluster

    with postgres_cluster() as cluster:
        print(asyncio.run(measure(cluster.url(cluster.new_schema()))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
