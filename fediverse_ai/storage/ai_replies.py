"""The AI actor's bookkeeping: one record per mention, rate buckets, daily usage."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from ..errors import StorageError
from .db import Database

# How far up a thread the loop cap looks through stored notes. Far enough for any real
# conversation; a deeper chain (or a cycle of remote notes) is keyed on the least id it visits.
THREAD_DEPTH = 1000
# Expired buckets deleted per charge: more than a charge adds, so the backlog drains.
PRUNE_BATCH = 32
_NEVER = 1e300


@dataclass(frozen=True)
class ReplyRecord:
    mention_uri: str
    author_uri: str
    base_status_id: str
    state: str
    reason: str | None
    reply_uri: str | None
    decided_at: float | None = None
    thread_uri: str | None = None


def day_of(when: float) -> str:
    """The UTC day of a unix time, ``YYYY-MM-DD``: the feedback sums group by it."""
    return datetime.fromtimestamp(when, UTC).strftime("%Y-%m-%d")


@dataclass(frozen=True)
class MadeBy:
    """What made an answer: the backend, its model, the kind of request, and the UTC day."""

    backend: str
    model: str
    intent: str  # text | image | edit | vision
    day: str = ""


@dataclass(frozen=True)
class Bucket:
    """A token bucket to charge, and the reason recorded when it is empty."""

    key: str
    capacity: float
    per_second: float
    refusal: str


_RECORD = (
    "SELECT mention_uri, author_uri, base_status_id, state, reason, reply_uri, decided_at,"
    " thread_uri FROM ai_replies WHERE mention_uri = ?"
)


async def reserve(
    db: Database, *, mention_uri: str, author_uri: str, base_status_id: str, now: float
) -> ReplyRecord:
    """The record for this mention, created with ``base_status_id`` on first sight."""
    async with db.write() as conn:
        await conn.execute(
            "INSERT INTO ai_replies (mention_uri, author_uri, base_status_id, created_at,"
            " updated_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT(mention_uri) DO NOTHING",
            (mention_uri, author_uri, base_status_id, now, now),
        )
    found = await get(db, mention_uri)
    assert found is not None
    return found


async def get(db: Database, mention_uri: str) -> ReplyRecord | None:
    row = await db.fetchone(_RECORD, (mention_uri,))
    return ReplyRecord(*row) if row else None


async def finish(
    db: Database,
    mention_uri: str,
    *,
    state: str,
    now: float,
    reason: str | None = None,
    reply_uri: str | None = None,
    made_by: MadeBy | None = None,
) -> None:
    """Record the outcome; ``made_by``: what answered, for the feedback sums (``/admin/ai``)."""
    by = made_by or MadeBy("", "", "")
    await db.execute(
        "UPDATE ai_replies SET state = ?, reason = ?, reply_uri = COALESCE(?, reply_uri),"
        " updated_at = ?, backend = COALESCE(?, backend), model = COALESCE(?, model),"
        " intent = COALESCE(?, intent), day = COALESCE(?, day) WHERE mention_uri = ?",
        (
            state,
            reason,
            reply_uri,
            now,
            by.backend or None,
            by.model or None,
            by.intent or None,
            by.day or None,
            mention_uri,
        ),
    )


async def thread_of(db: Database, mention_uri: str, parent_uri: str | None) -> str:
    """The thread a mention belongs to, for the per-thread reply cap.

    Found by walking ``inReplyTo`` up through the notes we store, so that a sender cannot
    start a fresh thread by naming a fresh ``context``. The walk stops at the first note
    already placed in a thread (a mention we decided on, or a thread's root), so that a
    thread keeps its key when more of its ancestors are fetched later; otherwise the thread
    is the highest note reached (stored or only referred to).
    """
    if parent_uri is None:
        return mention_uri
    rows = await db.fetchall(
        "WITH RECURSIVE up(uri, depth) AS (VALUES (?, 0) UNION ALL"
        " SELECT n.in_reply_to_uri, up.depth + 1 FROM up JOIN notes n ON n.uri = up.uri"
        " WHERE n.in_reply_to_uri IS NOT NULL AND up.depth < ?"
        " AND NOT EXISTS (SELECT 1 FROM ai_replies r WHERE r.mention_uri = up.uri"
        " AND r.thread_uri IS NOT NULL)"
        " AND NOT EXISTS (SELECT 1 FROM ai_replies r WHERE r.thread_uri = up.uri))"
        " SELECT up.uri, (SELECT r.thread_uri FROM ai_replies r WHERE r.mention_uri = up.uri),"
        " EXISTS (SELECT 1 FROM ai_replies r WHERE r.thread_uri = up.uri)"
        " FROM up ORDER BY up.depth",
        (parent_uri, THREAD_DEPTH),
    )
    for uri, inherited, is_root in rows:
        if inherited:
            return str(inherited)
        if is_root:
            return str(uri)
    if len(rows) > THREAD_DEPTH:
        return str(min(row[0] for row in rows))
    return str(rows[-1][0])


@dataclass(frozen=True)
class Limits:
    """What one answer counts against: its thread's cap, rate buckets, the day's budget."""

    thread_uri: str
    thread_cap: int
    buckets: Sequence[Bucket]
    day: str  # UTC, YYYY-MM-DD
    budget: int


@dataclass(frozen=True)
class Decision:
    answer: bool
    reason: str | None = None


async def decide(
    db: Database, mention_uri: str, limits: Limits, *, now: float, refusal: str | None = None
) -> Decision:
    """Check the thread cap, the rate buckets and the day's budget, and record the outcome.

    One transaction: the charges and the decision are written together or not at all, so an
    attempt that fails before it has recorded a decision leaves nothing charged, and the next
    attempt checks again; a decision already recorded (another attempt got there) is returned
    as it stands, charging nothing. A refusal charges nothing either. ``refusal``: a reason
    found before (consent, a block) to record as it is, with the same guard.
    """

    def work(conn: sqlite3.Connection) -> Decision:
        row = conn.execute(
            "SELECT state, reason, decided_at FROM ai_replies WHERE mention_uri = ?",
            (mention_uri,),
        ).fetchone()
        if row is None:
            raise StorageError("no reply record for this mention")
        if row[2] is not None:
            return Decision(True)
        if row[0] != "pending":
            return Decision(False, row[1])
        _hold_day(conn, limits.day)
        reason = refusal or _refusal(conn, limits, now)
        if reason is not None:
            conn.execute(
                "UPDATE ai_replies SET state = 'skipped', reason = ?, thread_uri = ?,"
                " updated_at = ? WHERE mention_uri = ?",
                (reason, limits.thread_uri, now, mention_uri),
            )
            return Decision(False, reason)
        _take(conn, limits.buckets, limits.day, now)
        conn.execute(
            "UPDATE ai_replies SET decided_at = ?, thread_uri = ?, updated_at = ?"
            " WHERE mention_uri = ?",
            (now, limits.thread_uri, now, mention_uri),
        )
        _prune(conn, now)
        return Decision(True)

    return await db.transaction(work)


def _refusal(conn: sqlite3.Connection, limits: Limits, now: float) -> str | None:
    answered = conn.execute(
        "SELECT COUNT(*) FROM ai_replies WHERE thread_uri = ? AND decided_at IS NOT NULL",
        (limits.thread_uri,),
    ).fetchone()[0]
    if answered >= limits.thread_cap:
        return "reply cap for this thread reached"
    return _spent(conn, limits.buckets, limits.day, limits.budget, now)


def _spent(
    conn: sqlite3.Connection, buckets: Sequence[Bucket], day: str, budget: int, now: float
) -> str | None:
    """Why the buckets or the day's budget refuse one more generation, None if they do not."""
    for bucket in buckets:
        if _tokens(conn, bucket.key, bucket.capacity, bucket.per_second, now) < 1.0:
            return bucket.refusal
    used = conn.execute("SELECT count FROM ai_usage WHERE day = ?", (day,)).fetchone()
    if (int(used[0]) if used else 0) >= budget:
        return "daily budget spent"
    return None


def _take(conn: sqlite3.Connection, buckets: Sequence[Bucket], day: str, now: float) -> None:
    for bucket in buckets:
        tokens = _tokens(conn, bucket.key, bucket.capacity, bucket.per_second, now)
        _store(conn, bucket.key, tokens - 1.0, bucket.capacity, bucket.per_second, now)
    conn.execute(
        "INSERT INTO ai_usage (day, count) VALUES (?, 1)"
        " ON CONFLICT(day) DO UPDATE SET count = ai_usage.count + 1",
        (day,),
    )


def _hold(conn: sqlite3.Connection, key: str, capacity: float, now: float) -> None:
    """Hold the bucket's row until commit, making it (full, as no row is) if there is none.

    On PostgreSQL a plain read takes no lock: two processes would both read the last token and
    both take it. After this write the other waits, and its next statement reads what this one
    committed (each statement of a READ COMMITTED transaction sees the latest commits). SQLite
    lets one writer in at a time anyway. Only :func:`take_token` holds one bucket; the AI's
    charges hold the day's row instead (:func:`_hold_day`), so no two orders of locks meet.
    """
    conn.execute(
        "INSERT INTO rate_buckets (key, tokens, updated_at, full_at) VALUES (?, ?, ?, ?)"
        " ON CONFLICT(key) DO UPDATE SET tokens = rate_buckets.tokens",
        (key, capacity, now, now),
    )


def _hold_day(conn: sqlite3.Connection, day: str) -> None:
    """Hold the day's usage row until commit: the AI's decisions and charges, in every process,
    then check and take their buckets, budget and thread cap one at a time (see :func:`_hold`).
    They are rare (a generation takes seconds), so one row for all of them costs nothing."""
    conn.execute(
        "INSERT INTO ai_usage (day, count) VALUES (?, 0)"
        " ON CONFLICT(day) DO UPDATE SET count = ai_usage.count",
        (day,),
    )


def _tokens(
    conn: sqlite3.Connection, key: str, capacity: float, per_second: float, now: float
) -> float:
    row = conn.execute("SELECT tokens, updated_at FROM rate_buckets WHERE key = ?", (key,))
    found = row.fetchone()
    if found is None:
        return capacity
    return min(capacity, float(found[0]) + max(0.0, now - float(found[1])) * per_second)


def _store(
    conn: sqlite3.Connection,
    key: str,
    tokens: float,
    capacity: float,
    per_second: float,
    now: float,
) -> None:
    full_at = now + (capacity - tokens) / per_second if per_second > 0 else _NEVER
    conn.execute(
        "INSERT INTO rate_buckets (key, tokens, updated_at, full_at) VALUES (?, ?, ?, ?)"
        " ON CONFLICT(key) DO UPDATE SET tokens = excluded.tokens,"
        " updated_at = excluded.updated_at, full_at = excluded.full_at",
        (key, tokens, now, full_at),
    )


def _prune(conn: sqlite3.Connection, now: float) -> None:
    """Delete buckets that have refilled: a full bucket is the same as no row.

    This keeps ``rate_buckets`` to the keys charged within their refill time (an hour at
    most for the AI's limits, minutes for the web's), however many keys callers invent.
    """
    conn.execute(
        "DELETE FROM rate_buckets WHERE key IN"
        " (SELECT key FROM rate_buckets WHERE full_at <= ? LIMIT ?)",
        (now, PRUNE_BATCH),
    )


async def take_token(
    db: Database, key: str, *, capacity: float, per_second: float, now: float
) -> bool:
    """Token bucket: refill by elapsed time, take one token if there is one."""

    def work(conn: sqlite3.Connection) -> bool:
        _hold(conn, key, capacity, now)
        tokens = _tokens(conn, key, capacity, per_second, now)
        allowed = tokens >= 1.0
        if allowed:
            _store(conn, key, tokens - 1.0, capacity, per_second, now)
        _prune(conn, now)
        return allowed

    return await db.transaction(work)


async def charge(
    db: Database, buckets: Sequence[Bucket], *, day: str, budget: int, now: float
) -> str | None:
    """Charge other text-backend work (a report's summary) to the rate buckets and the day's
    budget the answers use: all of them or, when one is empty, none; the refusal when one is.

    Unlike :func:`decide` nothing records that this work was charged: a job that stops after
    the charge and runs again pays twice, which errs on the side of less work for the backend.
    """

    def work(conn: sqlite3.Connection) -> str | None:
        _hold_day(conn, day)
        refusal = _spent(conn, buckets, day, budget, now)
        if refusal is None:
            _take(conn, buckets, day, now)
            _prune(conn, now)
        return refusal

    return await db.transaction(work)
