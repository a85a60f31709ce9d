"""Order within a queue of jobs (the deliveries to one inbox): one at a time, oldest first.

Only the oldest pending or running job of a queue, its head, is due. The jobs behind it are
parked: due :data:`PARK_SECONDS` after the head could run at the earliest, and made due at once
when the job before them ends (done, or failed for good). So claims never meet a job that would
only have to wait: a peer that is down with thousands of deliveries queued for it costs the
claims for everybody else nothing (without parking, each claim stepped over every one of them
under the write lock, 13 times the cost of a claim with 2,000 waiting: BENCHMARKS.md). Should a
parked job come due while its head still runs (a lease that outlived the parking), the claim's
guard :data:`HEAD_OF_QUEUE` keeps the order anyway.

The SQL here runs inside the transactions of :mod:`.jobs`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable

PARK_SECONDS = 3600.0

# For a claim over ``jobs AS j``: no older job of the same queue is pending or running.
HEAD_OF_QUEUE = (
    "(j.queue_key IS NULL OR NOT EXISTS (SELECT 1 FROM jobs AS o WHERE o.queue_key IS NOT NULL"
    " AND o.queue_key = j.queue_key AND o.state IN ('pending', 'running') AND o.id < j.id))"
)

# The due time of a job queued now (named parameters :queue, :now, :park): at once, or parked
# behind the queue's head (a running job, or else the oldest pending one). Index searches only,
# however long the queue: INDEXED BY, because left to itself SQLite read every pending job
# through jobs_ready for each new row (a 1,000-inbox fan-out took 6 times as long to queue).
QUEUED_RUN_AFTER = (
    "COALESCE((SELECT :now + :park FROM jobs INDEXED BY jobs_queue"
    " WHERE queue_key = :queue AND state = 'running' LIMIT 1),"
    " (SELECT MAX(run_after, :now) + :park FROM jobs WHERE id = (SELECT MIN(id)"
    " FROM jobs INDEXED BY jobs_queue WHERE queue_key = :queue AND state = 'pending')), :now)"
)


def park_behind(conn: sqlite3.Connection, queue_key: str, job_id: int, run_after: float) -> None:
    """The head ``job_id`` will run again at ``run_after``: the jobs behind it wait longer."""
    parked = run_after + PARK_SECONDS
    conn.execute(
        "UPDATE jobs SET run_after = ? WHERE queue_key = ? AND state = 'pending' AND id > ?"
        " AND run_after < ?",
        (parked, queue_key, job_id, parked),
    )


def ended(conn: sqlite3.Connection, queue_keys: Iterable[str | None], *, now: float) -> None:
    """Jobs of these queues ended (done or failed): the next of each queue is due now."""
    for queue_key in queue_keys:
        if queue_key is None:
            continue
        conn.execute(
            "UPDATE jobs SET run_after = ? WHERE id = (SELECT id FROM jobs INDEXED BY jobs_queue"
            " WHERE queue_key = ? AND state = 'pending' ORDER BY id LIMIT 1) AND run_after > ?",
            (now, queue_key, now),
        )
