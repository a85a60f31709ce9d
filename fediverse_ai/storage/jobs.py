"""The durable job table: enqueue once, claim with a lease, finish or reschedule.

A claimed job carries ``locked_until`` and ``locked_by``; a worker killed mid-job leaves
the lease to expire and the job is claimed again, so every handler must be safe to run
twice. A live worker renews the leases it holds (:func:`renew`), and finishing a job
(:func:`complete`, :func:`reschedule`, :func:`fail`, :func:`release`) only touches the
row while ``locked_by`` is still the caller: a worker whose lease lapsed and was taken
over cannot overwrite the outcome of the run that took it.

Jobs that share a ``queue_key`` (deliveries: the target inbox) run one at a time in the order
they were queued (:mod:`.job_queues`).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Sequence
from typing import Any

from ..models import Job
from .db import Database
from .job_queues import HEAD_OF_QUEUE, PARK_SECONDS, QUEUED_RUN_AFTER, ended, park_behind


def _row(row: sqlite3.Row) -> Job:
    return Job(
        id=row["id"],
        kind=row["kind"],
        payload=json.loads(row["payload"]),
        attempts=row["attempts"],
        dedupe_key=row["dedupe_key"],
        state=row["state"],
        last_error=row["last_error"],
        run_after=row["run_after"],
    )


_COLUMNS = "id, kind, payload, attempts, dedupe_key, state, last_error, run_after"


async def enqueue(
    db: Database,
    kind: str,
    payload: dict[str, Any],
    *,
    now: float,
    dedupe_key: str | None = None,
    run_after: float | None = None,
) -> bool:
    """Add a job; False when a job with the same dedupe_key already exists."""
    return await db.transaction(
        lambda conn: enqueue_in(
            conn, kind, payload, now=now, dedupe_key=dedupe_key, run_after=run_after
        )
    )


def enqueue_in(
    conn: sqlite3.Connection,
    kind: str,
    payload: dict[str, Any],
    *,
    now: float,
    dedupe_key: str | None = None,
    run_after: float | None = None,
) -> bool:
    """:func:`enqueue` inside the caller's transaction (``Database.transaction``)."""
    cur = conn.execute(
        "INSERT INTO jobs (kind, payload, run_after, dedupe_key, created_at, updated_at)"
        " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(dedupe_key) DO NOTHING",
        (kind, json.dumps(payload), run_after or now, dedupe_key, now, now),
    )
    return cur.rowcount > 0


async def enqueue_many(
    db: Database,
    jobs: Sequence[tuple[str, dict[str, Any], str | None]],
    *,
    now: float,
    queue_keys: Sequence[str | None] | None = None,
) -> None:
    """Add jobs in one trip; ``queue_keys`` (one per job) puts each in its key's queue,
    behind the jobs already in it (:mod:`.job_queues`)."""
    keys = queue_keys if queue_keys is not None else [None] * len(jobs)
    if len(keys) != len(jobs):
        raise ValueError("one queue key per job")
    await db.executemany(
        "INSERT INTO jobs (kind, payload, run_after, dedupe_key, created_at, updated_at,"
        f" queue_key) VALUES (:kind, :payload, {QUEUED_RUN_AFTER}, :dedupe, :now, :now, :queue)"
        " ON CONFLICT(dedupe_key) DO NOTHING",
        [
            {
                "kind": k,
                "payload": json.dumps(p),
                "now": now,
                "dedupe": d,
                "queue": q,
                "park": PARK_SECONDS,
            }
            for (k, p, d), q in zip(jobs, keys, strict=True)
        ],
    )


# Every statement that ends a run is guarded by its holder (``IS``: tests and tools claim
# without a holder, NULL).
_HELD = "id = ? AND state = 'running' AND locked_by IS ?"
_COMPLETE = (
    "UPDATE jobs SET state = 'done', locked_until = NULL, last_error = NULL, updated_at = ?"
    f" WHERE {_HELD} RETURNING queue_key"
)


def _complete_in(conn: sqlite3.Connection, job_id: int, now: float, locked_by: str | None) -> bool:
    rows = conn.execute(_COMPLETE, (now, job_id, locked_by)).fetchall()
    ended(conn, (row[0] for row in rows), now=now)
    return bool(rows)


async def claim(
    db: Database,
    *,
    now: float,
    lease_seconds: float,
    locked_by: str | None = None,
    complete: int | None = None,
    skip_kinds: Sequence[str] = (),
) -> Job | None:
    """Take the next due job (or one whose lease expired) and lease it to the caller.

    ``complete``: a job the caller finished, marked done in the same transaction; a worker
    loop records one job and takes the next in one trip to the writer thread (a trip costs
    more CPU than the statements: BENCHMARKS.md). ``skip_kinds``: kinds the caller has no room
    for now (see ``Worker``).
    """
    # Two index searches instead of one OR: with the OR, SQLite collected every pending job and
    # sorted them for each claim (about 1 ms with 10,000 queued, under the write lock), which
    # capped fan-out and inbox bursts. Expired leases (a worker died) go first; there are few
    # running rows, so that search is cheap too.
    skip = ""
    lock = db.skip_locked  # PostgreSQL: claims by other processes take other rows
    if skip_kinds:
        skip = f" AND kind NOT IN ({', '.join('?' for _ in skip_kinds)})"
    sql = (
        f"UPDATE jobs SET state = 'running', locked_until = ?, locked_by = ?,"
        f" attempts = attempts + 1, updated_at = ? WHERE id = COALESCE("
        f"(SELECT id FROM jobs WHERE state = 'running' AND locked_until < ?{skip} LIMIT 1{lock}),"
        f" (SELECT id FROM jobs AS j WHERE state = 'pending' AND run_after <= ?{skip}"
        f" AND {HEAD_OF_QUEUE} ORDER BY run_after LIMIT 1{lock})) RETURNING {_COLUMNS}"
    )
    kinds = tuple(skip_kinds)
    params = (now + lease_seconds, locked_by, now, now, *kinds, now, *kinds)

    def work(conn: sqlite3.Connection) -> list[Any]:
        if complete is not None:
            _complete_in(conn, complete, now, locked_by)
        # fetchall: a RETURNING statement must run to its end before the COMMIT.
        return conn.execute(sql, params).fetchall()

    rows = await db.transaction(work)
    return _row(rows[0]) if rows else None


async def complete(db: Database, job_id: int, *, now: float, locked_by: str | None = None) -> bool:
    """Mark a job done; False when ``locked_by`` no longer holds it (its lease was taken)."""
    return await db.transaction(lambda conn: _complete_in(conn, job_id, now, locked_by))


async def complete_many(
    db: Database, job_ids: list[int], *, now: float, locked_by: str | None = None
) -> None:
    def work(conn: sqlite3.Connection) -> None:
        for job_id in job_ids:
            _complete_in(conn, job_id, now, locked_by)

    if job_ids:
        await db.transaction(work)


async def reschedule(
    db: Database,
    job_id: int,
    *,
    run_after: float,
    error: str,
    now: float,
    locked_by: str | None = None,
) -> bool:
    """Make a failed attempt due again at ``run_after``; False when the job was taken over.
    The jobs queued behind it stay parked behind it (:mod:`.job_queues`)."""
    sql = (
        "UPDATE jobs SET state = 'pending', locked_until = NULL, run_after = ?, last_error = ?,"
        f" updated_at = ? WHERE {_HELD} RETURNING queue_key"
    )

    def work(conn: sqlite3.Connection) -> bool:
        rows = conn.execute(sql, (run_after, error[:2000], now, job_id, locked_by)).fetchall()
        if not rows:
            return False
        if rows[0][0] is not None:
            park_behind(conn, rows[0][0], job_id, run_after)
        return True

    return await db.transaction(work)


async def fail(
    db: Database, job_id: int, *, error: str, now: float, locked_by: str | None = None
) -> bool:
    """Give up on a job; False when the job was taken over. The next job of its queue is due."""
    sql = (
        "UPDATE jobs SET state = 'failed', locked_until = NULL, last_error = ?, updated_at = ?"
        f" WHERE {_HELD} RETURNING queue_key"
    )

    def work(conn: sqlite3.Connection) -> bool:
        rows = conn.execute(sql, (error[:2000], now, job_id, locked_by)).fetchall()
        ended(conn, (row[0] for row in rows), now=now)
        return bool(rows)

    return await db.transaction(work)


async def renew(db: Database, *, locked_by: str, now: float, lease_seconds: float) -> set[int]:
    """Extend the lease of every job ``locked_by`` holds, in one statement; their ids.

    Keyed by holder, so a job whose lease lapsed and that another worker claimed (it now
    carries that worker's ``locked_by``) is not extended, and is missing from the result.
    """
    rows = await db.transaction(
        lambda conn: conn.execute(
            "UPDATE jobs SET locked_until = ? WHERE state = 'running' AND locked_by = ?"
            " RETURNING id",
            (now + lease_seconds, locked_by),
        ).fetchall()
    )
    return {int(r[0]) for r in rows}


async def finish_waiting(db: Database, dedupe_key: str, *, now: float) -> None:
    """Mark done the job of ``dedupe_key`` if it is still waiting: its work was done without it
    (a safety net, such as the one under every new post: federation/publish.py)."""
    await db.execute(
        "UPDATE jobs SET state = 'done', updated_at = ? WHERE dedupe_key = ? AND state = 'pending'",
        (now, dedupe_key),
    )


async def retry_failed(db: Database, *, now: float) -> int:
    async with db.write() as conn:
        cur = await conn.execute(
            "UPDATE jobs SET state = 'pending', run_after = ?, attempts = 0, updated_at = ?"
            " WHERE state = 'failed'",
            (now, now),
        )
        return cur.rowcount


async def release(
    db: Database, job_ids: list[int], *, now: float, locked_by: str | None = None
) -> None:
    """Hand back jobs interrupted by a clean shutdown: due at once, the attempt not counted."""
    await db.executemany(
        "UPDATE jobs SET state = 'pending', locked_until = NULL, run_after = ?,"
        f" attempts = MAX(attempts - 1, 0), updated_at = ? WHERE {_HELD}",
        [(now, now, job_id, locked_by) for job_id in job_ids],
    )


async def release_orphans(
    db: Database, *, host: str, alive: Callable[[int], bool], now: float
) -> int:
    """Make due again the running jobs of dead processes on this host (e.g. after kill -9).

    ``locked_by`` is ``host:pid`` or ``host:pid:instance``. ``alive`` decides per pid; a
    worker treats its own pid as dead (an earlier run under a reused pid, as in a container),
    which is right while a process runs one worker.
    """
    rows = await db.fetchall(
        "SELECT id, locked_by FROM jobs WHERE state = 'running' AND locked_by LIKE ?",
        (f"{host}:%",),
    )
    dead = []
    for job_id, holder in rows:
        if not holder.startswith(f"{host}:"):
            continue  # LIKE's "_" matched another host's name
        pid = holder[len(host) + 1 :].split(":")[0]
        if not (pid.isdigit() and alive(int(pid))):
            dead.append(job_id)
    async with db.write() as conn:
        await conn.executemany(
            "UPDATE jobs SET state = 'pending', locked_until = NULL, run_after = ?, updated_at = ?"
            " WHERE id = ? AND state = 'running'",
            [(now, now, job_id) for job_id in dead],
        )
    return len(dead)


async def counts(db: Database) -> dict[str, int]:
    rows = await db.fetchall("SELECT state, COUNT(*) FROM jobs GROUP BY state")
    return {r[0]: int(r[1]) for r in rows}


async def pending_count(db: Database, *, now: float) -> int:
    return int(
        await db.fetchval(
            "SELECT COUNT(*) FROM jobs WHERE state IN ('pending', 'running')",
        )
        or 0
    )


async def next_due(db: Database) -> float | None:
    value = await db.fetchval("SELECT MIN(run_after) FROM jobs WHERE state = 'pending'")
    return float(value) if value is not None else None


async def list_jobs(db: Database, *, state: str | None = None, limit: int = 100) -> list[Job]:
    if state:
        rows = await db.fetchall(
            f"SELECT {_COLUMNS} FROM jobs WHERE state = ? ORDER BY id DESC LIMIT ?", (state, limit)
        )
    else:
        rows = await db.fetchall(f"SELECT {_COLUMNS} FROM jobs ORDER BY id DESC LIMIT ?", (limit,))
    return [_row(r) for r in rows]
