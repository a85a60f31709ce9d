"""Limits that every process on this database shares: request counts per fixed window, and
leased slots of a pool.

With several ``fediverse-ai run`` and ``fediverse-ai worker`` processes on one database, a
limit kept in one process's memory is a limit per process: N processes allow N times as much.
Each hit here is one statement (``INSERT … ON CONFLICT … DO UPDATE … RETURNING``, which
SQLite ≥ 3.35 and PostgreSQL both run atomically), and every time is passed in, so tests pin
it. Rows no one needs any more are deleted by the retention purge (``retention.py``), and a
few ended windows' counts by each key's first call of a window.
"""

from __future__ import annotations

import math
import sqlite3
from dataclasses import dataclass

from .db import Database

# Mastodon's client API window (client_api/rate_limits.py); the purge keeps the current one.
API_WINDOW_SECONDS = 300.0

_HIT = """
INSERT INTO api_request_counts (key, window_start, hits) VALUES (?, ?, 1)
ON CONFLICT (key, window_start) DO UPDATE SET hits = api_request_counts.hits + 1
RETURNING hits
"""

PRUNE_BATCH = 16
_PRUNE = """
DELETE FROM api_request_counts WHERE window_start < ? AND key IN (
    SELECT key FROM api_request_counts WHERE window_start < ? LIMIT ?
)
"""

# The lowest slot number below the pool's size that no live lease holds, taken in the same
# statement. A slot whose lease ran out is overwritten; the DO UPDATE's WHERE keeps a live
# one (two PostgreSQL transactions that picked the same slot: the second gets no row back).
_ACQUIRE = """
WITH RECURSIVE numbers(slot) AS (
    SELECT 0 UNION ALL SELECT slot + 1 FROM numbers WHERE slot + 1 < ?
)
INSERT INTO slot_leases (pool, slot, holder, expires_at)
SELECT ?, numbers.slot, ?, ? FROM numbers
WHERE NOT EXISTS (
    SELECT 1 FROM slot_leases AS held
    WHERE held.pool = ? AND held.slot = numbers.slot AND held.expires_at > ?
)
ORDER BY numbers.slot LIMIT 1
ON CONFLICT (pool, slot) DO UPDATE
    SET holder = excluded.holder, expires_at = excluded.expires_at
    WHERE slot_leases.expires_at <= ?
RETURNING slot
"""


@dataclass(frozen=True)
class WindowCount:
    """Requests ``key`` made in the current window (this one included), and its end."""

    hits: int
    resets_at: float


def window_start(now: float, seconds: float = API_WINDOW_SECONDS) -> float:
    """Windows are aligned on the clock, so that every process agrees on which one it is."""
    return math.floor(now / seconds) * seconds


async def hit(
    db: Database, key: str, *, now: float, seconds: float = API_WINDOW_SECONDS
) -> WindowCount:
    """Count one request of ``key`` in the window around ``now``."""
    start = window_start(now, seconds)

    def work(conn: sqlite3.Connection) -> int:
        hits = int(conn.execute(_HIT, (key, start)).fetchone()[0])
        if hits == 1:
            # A new row: take a few of the ended windows' rows away, so that however many
            # keys clients invent the table holds little more than one window's, even with
            # the retention purge off. Repeated calls (the hot path) never pay for this.
            conn.execute(_PRUNE, (start, start, PRUNE_BATCH))
        return hits

    return WindowCount(hits=await db.transaction(work), resets_at=start + seconds)


@dataclass(frozen=True)
class Lease:
    """Slot ``slot`` of ``pool``, held by ``holder`` (a random token of one acquisition)."""

    pool: str
    slot: int
    holder: str


async def acquire(
    db: Database, pool: str, holder: str, *, size: int, now: float, lease_seconds: float
) -> Lease | None:
    """Take a free slot of ``pool`` (``size`` slots) until ``now + lease_seconds``, or None
    when every slot is held by a lease that has not run out."""
    params = (size, pool, holder, now + lease_seconds, pool, now, now)

    def work(conn: sqlite3.Connection) -> int | None:
        row = conn.execute(_ACQUIRE, params).fetchone()
        return None if row is None else int(row[0])

    slot = await db.transaction(work)
    return None if slot is None else Lease(pool, slot, holder)


async def renew(db: Database, lease: Lease, *, now: float, lease_seconds: float) -> bool:
    """Extend the lease; False when it ran out and another holder took the slot."""
    changed = await db.transaction(
        lambda conn: (
            conn.execute(
                "UPDATE slot_leases SET expires_at = ? WHERE pool = ? AND slot = ? AND holder = ?",
                (now + lease_seconds, lease.pool, lease.slot, lease.holder),
            ).rowcount
        )
    )
    return bool(changed)


async def release(db: Database, lease: Lease) -> None:
    """Give the slot back (nothing happens when another holder has it by now)."""
    await db.execute(
        "DELETE FROM slot_leases WHERE pool = ? AND slot = ? AND holder = ?",
        (lease.pool, lease.slot, lease.holder),
    )


async def holders(db: Database, pool: str, *, now: float) -> list[Lease]:
    """The live leases of ``pool``."""
    rows = await db.fetchall(
        "SELECT slot, holder FROM slot_leases WHERE pool = ? AND expires_at > ? ORDER BY slot",
        (pool, now),
    )
    return [Lease(pool, int(slot), str(holder)) for slot, holder in rows]
