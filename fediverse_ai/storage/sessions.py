"""Browser sessions: the SHA-256 of the cookie token, the account and its CSRF token."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from .db import Database


def token_hash(token: str) -> str:
    """What the database keeps of a session token: a stolen database opens no session."""
    return hashlib.sha256(token.encode("ascii", "replace")).hexdigest()


@dataclass(frozen=True)
class SessionRow:
    actor_id: int
    csrf_token: str
    expires_at: float


async def create(
    db: Database,
    *,
    token_hash: str,
    actor_id: int,
    csrf_token: str,
    now: float,
    expires_at: float,
    user_agent: str,
) -> None:
    await db.execute(
        "INSERT INTO sessions (token_hash, actor_id, csrf_token, created_at, expires_at,"
        " user_agent) VALUES (?, ?, ?, ?, ?, ?)",
        (token_hash, actor_id, csrf_token, now, expires_at, user_agent[:300]),
    )


async def get(db: Database, token_hash: str, *, now: float) -> SessionRow | None:
    row = await db.fetchone(
        "SELECT actor_id, csrf_token, expires_at FROM sessions"
        " WHERE token_hash = ? AND expires_at > ?",
        (token_hash, now),
    )
    if row is None:
        return None
    return SessionRow(actor_id=row[0], csrf_token=row[1], expires_at=row[2])


async def delete(db: Database, token_hash: str) -> None:
    await db.execute("DELETE FROM sessions WHERE token_hash = ?", (token_hash,))


async def delete_for_actor(db: Database, actor_id: int, *, keep: str | None = None) -> int:
    """Sign the account out everywhere, but in the session whose hash is ``keep``."""
    async with db.write() as conn:
        cur = await conn.execute(
            "DELETE FROM sessions WHERE actor_id = ? AND token_hash IS NOT ?", (actor_id, keep)
        )
        return cur.rowcount


async def purge_expired(db: Database, *, now: float) -> int:
    async with db.write() as conn:
        cur = await conn.execute("DELETE FROM sessions WHERE expires_at <= ?", (now,))
        return cur.rowcount
