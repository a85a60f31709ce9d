"""Sign-ups waiting for an admin's approval (or refused), before they become accounts."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Literal

from .db import Database

SignupState = Literal["pending", "rejected"]
_COLUMNS = "id, username, email, reason, password_hash, state, address, created_at"


@dataclass(frozen=True)
class Signup:
    id: int
    username: str
    email: str
    reason: str
    password_hash: str
    state: SignupState
    address: str
    created_at: float


def _row(row: sqlite3.Row) -> Signup:
    return Signup(
        id=row[0],
        username=row[1],
        email=row[2],
        reason=row[3],
        password_hash=row[4],
        state=row[5],
        address=row[6],
        created_at=row[7],
    )


async def add(
    db: Database,
    *,
    username: str,
    email: str,
    reason: str,
    password_hash: str,
    address: str,
    now: float,
) -> bool:
    """False when the name is already asked for (two requests racing for it)."""
    try:
        await db.execute(
            "INSERT INTO signups (username, email, reason, password_hash, address, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (username, email, reason, password_hash, address, now),
        )
    except sqlite3.IntegrityError:
        return False
    return True


async def by_username(db: Database, username: str) -> Signup | None:
    row = await db.fetchone(
        f"SELECT {_COLUMNS} FROM signups WHERE username = ?", (username.lower(),)
    )
    return _row(row) if row else None


async def listed(db: Database, state: SignupState = "pending", limit: int = 200) -> list[Signup]:
    rows = await db.fetchall(
        f"SELECT {_COLUMNS} FROM signups WHERE state = ? ORDER BY created_at LIMIT ?",
        (state, limit),
    )
    return [_row(r) for r in rows]


async def reject(db: Database, signup_id: int, *, now: float) -> bool:
    async with db.write() as conn:
        cur = await conn.execute(
            "UPDATE signups SET state = 'rejected', decided_at = ?"
            " WHERE id = ? AND state = 'pending'",
            (now, signup_id),
        )
        return cur.rowcount == 1


async def delete(db: Database, signup_id: int) -> None:
    await db.execute("DELETE FROM signups WHERE id = ?", (signup_id,))
