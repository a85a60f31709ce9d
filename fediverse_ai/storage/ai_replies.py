"""The AI actor's bookkeeping: one record per mention, rate buckets, daily usage."""

from __future__ import annotations

from dataclasses import dataclass

from .db import Database


@dataclass(frozen=True)
class ReplyRecord:
    mention_uri: str
    author_uri: str
    base_status_id: str
    state: str
    reason: str | None
    reply_uri: str | None


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
    row = await db.fetchone(
        "SELECT mention_uri, author_uri, base_status_id, state, reason, reply_uri"
        " FROM ai_replies WHERE mention_uri = ?",
        (mention_uri,),
    )
    return ReplyRecord(*row) if row else None


async def finish(
    db: Database,
    mention_uri: str,
    *,
    state: str,
    now: float,
    reason: str | None = None,
    reply_uri: str | None = None,
) -> None:
    await db.execute(
        "UPDATE ai_replies SET state = ?, reason = ?, reply_uri = COALESCE(?, reply_uri),"
        " updated_at = ? WHERE mention_uri = ?",
        (state, reason, reply_uri, now, mention_uri),
    )


async def count_in_context(db: Database, *, ai_actor_id: int, context_uri: str) -> int:
    """How many posts the AI actor already made in one conversation (the loop cap)."""
    return int(
        await db.fetchval(
            "SELECT COUNT(*) FROM notes WHERE actor_id = ? AND context_uri = ?",
            (ai_actor_id, context_uri),
        )
        or 0
    )


async def take_token(
    db: Database, key: str, *, capacity: float, per_second: float, now: float
) -> bool:
    """Token bucket: refill by elapsed time, take one token if there is one."""
    async with db.write() as conn:
        cur = await conn.execute(
            "SELECT tokens, updated_at FROM rate_buckets WHERE key = ?", (key,)
        )
        row = await cur.fetchone()
        await cur.close()
        tokens = capacity if row is None else min(capacity, row[0] + (now - row[1]) * per_second)
        allowed = tokens >= 1.0
        if allowed:
            tokens -= 1.0
        await conn.execute(
            "INSERT INTO rate_buckets (key, tokens, updated_at) VALUES (?, ?, ?)"
            " ON CONFLICT(key) DO UPDATE SET tokens = excluded.tokens,"
            " updated_at = excluded.updated_at",
            (key, tokens, now),
        )
        return allowed


async def take_budget(db: Database, *, day: str, budget: int) -> bool:
    """Count one generation against the day's budget; False when it is spent."""
    async with db.write() as conn:
        cur = await conn.execute("SELECT count FROM ai_usage WHERE day = ?", (day,))
        row = await cur.fetchone()
        await cur.close()
        used = int(row[0]) if row else 0
        if used >= budget:
            return False
        await conn.execute(
            "INSERT INTO ai_usage (day, count) VALUES (?, 1)"
            " ON CONFLICT(day) DO UPDATE SET count = count + 1",
            (day,),
        )
        return True
