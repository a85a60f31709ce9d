"""Retention: deleting rows nothing needs any more, a few hundred at a time.

Each batch is one short write transaction that re-checks its rows, so inbox intake and
job claims wait for milliseconds at most, and two purges at once (two worker processes,
or the CLI beside a running server) only share the work. Running one twice removes
nothing more the second time.

What goes, and what is kept on purpose:

* ``activities``: rows received more than ``activities_days`` ago, except those whose
  processing is still queued or failed (a retry reads them), and the Follow, Like,
  EmojiReact, Announce and Block activities whose effect is still in place: an Undo that
  names its activity only by id reads the stored copy (``federation/inbox.on_undo``), and
  approving a follow request embeds it in the Accept.
* ``jobs``: done ones after ``done_jobs_days``, failed ones after ``failed_jobs_days``.
* ``tombstones`` after ``tombstones_days``; expired ``sessions``; ``rate_buckets`` idle
  long enough to be full again, which is what a missing bucket means.
* ``api_request_counts`` of windows that have ended, and ``slot_leases`` that ran out
  (``shared_limits.py``): a missing row means what they mean.
* ``stream_events`` after :data:`STREAM_EVENTS_SECONDS` (a reader is a quarter of a second
  behind), except the newest row: ids must keep growing past the readers' last one; and
  ``stream_readers`` whose lease ran out.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from functools import partial

from ..config_ops import RetentionConfig
from .db import Database
from .shared_limits import API_WINDOW_SECONDS

BATCH = 500
DAY = 86400.0
# Every token bucket refills completely within an hour (web/auth.py, web/compose.py,
# web/remote_follow.py, bot/replier.py); a bucket idle for a day holds nothing to remember.
RATE_BUCKET_IDLE_SECONDS = DAY
# The inbox route queues an activity's processing under this key (web/inbox.py).
INBOX_JOB_KEY = "inbox:"
STREAM_EVENTS_SECONDS = 300.0

_ACTIVITY_KEPT = f"""(
    EXISTS (SELECT 1 FROM jobs WHERE jobs.dedupe_key = '{INBOX_JOB_KEY}' || activities.uri
            AND jobs.state != 'done')
    OR (activities.type = 'Follow'
        AND EXISTS (SELECT 1 FROM follows WHERE follows.uri = activities.uri))
    OR (activities.type IN ('Like', 'EmojiReact')
        AND EXISTS (SELECT 1 FROM reactions WHERE reactions.uri = activities.uri))
    OR (activities.type = 'Announce'
        AND EXISTS (SELECT 1 FROM announces WHERE announces.uri = activities.uri))
    OR (activities.type = 'Block'
        AND EXISTS (SELECT 1 FROM blocks WHERE blocks.uri = activities.uri))
)"""

# received_at is checked again: ids only bound the search (see _first_id_received_since).
_ACTIVITY_GOES = f"received_at < ? AND NOT {_ACTIVITY_KEPT}"

# Tables purged by one condition on their own columns: (name shown, table, condition).
# A finished job ran after it became due, so ``run_after <= updated_at``: the condition on
# run_after lets the search walk the jobs_ready index instead of the whole table.
_SIMPLE = (
    ("jobs (done)", "jobs", "state = 'done' AND run_after < :done AND updated_at < :done"),
    ("jobs (failed)", "jobs", "state = 'failed' AND run_after < :failed AND updated_at < :failed"),
    ("tombstones", "tombstones", "deleted_at < :tombstones"),
    ("sessions", "sessions", "expires_at <= :now"),
    ("rate_buckets", "rate_buckets", "updated_at < :buckets"),
    ("api_request_counts", "api_request_counts", "window_start <= :windows"),
    ("slot_leases", "slot_leases", "expires_at < :now"),
    (
        "stream_events",
        "stream_events",
        "created_at < :streams AND id < (SELECT MAX(id) FROM stream_events)",
    ),
    ("stream_readers", "stream_readers", "expires_at < :now"),
)
NAMES = ("activities", *(name for name, _, _ in _SIMPLE))


def _cutoffs(policy: RetentionConfig, now: float) -> dict[str, float | None]:
    def before(days: int) -> float | None:
        return now - days * DAY if days else None

    return {
        "activities": before(policy.activities_days),
        "done": before(policy.done_jobs_days),
        "failed": before(policy.failed_jobs_days),
        "tombstones": before(policy.tombstones_days),
        "now": now,
        "buckets": now - RATE_BUCKET_IDLE_SECONDS,
        "windows": now - API_WINDOW_SECONDS,
        "streams": now - STREAM_EVENTS_SECONDS,
    }


async def purge(
    db: Database, policy: RetentionConfig, *, now: float, dry_run: bool = False
) -> dict[str, int]:
    """Delete what ``policy`` no longer keeps; how many rows went per table (in ``NAMES``
    order). ``dry_run`` counts them instead."""
    cutoffs = _cutoffs(policy, now)
    removed = {"activities": await _activities(db, cutoffs["activities"], dry_run)}
    for name, table, condition in _SIMPLE:
        keys = [key for key, value in cutoffs.items() if f":{key}" in condition]
        if any(cutoffs[key] is None for key in keys):
            removed[name] = 0
            continue
        params = {key: cutoffs[key] for key in keys}
        removed[name] = await _simple(db, table, condition, params, dry_run)
    return removed


async def _simple(
    db: Database, table: str, condition: str, params: dict[str, float | None], dry_run: bool
) -> int:
    if dry_run:
        return int(await db.fetchval(f"SELECT COUNT(*) FROM {table} WHERE {condition}", params))
    sql = (
        f"DELETE FROM {table} WHERE rowid IN"
        f" (SELECT rowid FROM {table} WHERE {condition} LIMIT {BATCH})"
    )
    return await _batches(db, lambda conn: conn.execute(sql, params).rowcount)


async def _batches(db: Database, batch: Callable[[sqlite3.Connection], int]) -> int:
    total = 0
    while True:
        done = await db.transaction(batch)
        total += done
        if done < BATCH:
            return total
        await asyncio.sleep(0)  # let waiting writers in between batches


async def _activities(db: Database, cutoff: float | None, dry_run: bool) -> int:
    if cutoff is None:
        return 0
    bound = await db.transaction(lambda conn: _first_id_received_since(conn, cutoff))
    if dry_run:
        return int(
            await db.fetchval(
                f"SELECT COUNT(*) FROM activities WHERE id < ? AND {_ACTIVITY_GOES}",
                (bound, cutoff),
            )
        )
    total, after = 0, 0
    while True:
        batch = partial(_activity_batch, after=after, bound=bound, cutoff=cutoff)
        deleted, last = await db.transaction(batch)
        total += deleted
        if last is None:
            return total
        after = last
        await asyncio.sleep(0)


def _activity_batch(
    conn: sqlite3.Connection, after: int, bound: int, cutoff: float
) -> tuple[int, int | None]:
    """Delete the removable activities among the next ``BATCH`` ids below ``bound``; how
    many, and where the next batch starts (None: done). Walking by id, the rows kept (a
    follow still in place) are looked at once per purge, not once per batch."""
    last = conn.execute(
        "SELECT MAX(id) FROM (SELECT id FROM activities WHERE id > ? AND id < ?"
        " ORDER BY id LIMIT ?)",
        (after, bound, BATCH),
    ).fetchone()[0]
    if last is None:
        return 0, None
    deleted = conn.execute(
        f"DELETE FROM activities WHERE id > ? AND id <= ? AND {_ACTIVITY_GOES}",
        (after, last, cutoff),
    ).rowcount
    return deleted, last


def _first_id_received_since(conn: sqlite3.Connection, cutoff: float) -> int:
    """The lowest activity id received at or after ``cutoff`` (one past the last id when all
    are older): ids grow with ``received_at``, both taken as the row is stored, so a binary
    search on the primary key finds it. An index on received_at would do the same at the
    cost of one more index entry on every inbox POST (the intake benchmark); reading
    received_at row by row would read each row's raw JSON, which comes before it.

    A few rows stored out of order (two requests racing) end up on the wrong side of the
    boundary by a moment: a newer row below it is kept by the purge's own received_at check,
    an older row above it goes at the next purge.
    """
    low, high = conn.execute("SELECT MIN(id), MAX(id) FROM activities").fetchone()
    if low is None:
        return 0
    high += 1
    while low < high:
        middle = (low + high) // 2
        row = conn.execute(
            "SELECT id, received_at FROM activities WHERE id >= ? ORDER BY id LIMIT 1", (middle,)
        ).fetchone()
        if row is None or row[1] >= cutoff:
            high = middle
        else:
            low = row[0] + 1
    return int(low)
