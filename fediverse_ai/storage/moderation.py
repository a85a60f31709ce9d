"""What an admin decided about an account (migration 0016): suspended, silenced, or neither.

The SQL fragments are how every timeline query leaves moderated authors out, so that the rule
is stated once: suspended authors are hidden everywhere, silenced ones from public timelines.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from ..models import Actor
from .actors import _COLUMNS as ACTOR_COLUMNS
from .actors import row_to_actor
from .db import Database

#: Authors whose posts nobody sees (``actor_id NOT IN (...)``); the partial index keeps it small.
SUSPENDED_IDS = "SELECT id FROM actors WHERE suspended_at IS NOT NULL"
#: Authors kept out of the public timelines (suspended ones too). Two halves, each read from its
#: partial index: with ``OR`` SQLite scans every actor we know, once per query.
UNLISTED_IDS = f"{SUSPENDED_IDS} UNION ALL SELECT id FROM actors WHERE silenced_at IS NOT NULL"


@dataclass(frozen=True)
class Standing:
    suspended_at: float | None = None
    silenced_at: float | None = None

    @property
    def suspended(self) -> bool:
        return self.suspended_at is not None

    @property
    def silenced(self) -> bool:
        return self.silenced_at is not None


async def standing(db: Database, actor_id: int) -> Standing:
    row = await db.fetchone(
        "SELECT suspended_at, silenced_at FROM actors WHERE id = ?", (actor_id,)
    )
    return Standing(row[0], row[1]) if row else Standing()


async def is_suspended(db: Database, actor_id: int) -> bool:
    return (await standing(db, actor_id)).suspended


async def suspended_remote_uris(db: Database) -> frozenset[str]:
    rows = await db.fetchall(
        f"SELECT uri FROM actors WHERE id IN ({SUSPENDED_IDS}) AND local = 0", ()
    )
    return frozenset(str(r[0]) for r in rows)


async def set_suspended(db: Database, actor_id: int, *, at: float | None) -> None:
    """``at`` None lifts the suspension."""
    await db.transaction(lambda conn: set_suspended_in(conn, actor_id, at=at))


def set_suspended_in(conn: sqlite3.Connection, actor_id: int, *, at: float | None) -> None:
    """:func:`set_suspended` inside a caller's transaction."""
    conn.execute("UPDATE actors SET suspended_at = ? WHERE id = ?", (at, actor_id))


async def set_silenced(db: Database, actor_id: int, *, at: float | None) -> None:
    await db.execute("UPDATE actors SET silenced_at = ? WHERE id = ?", (at, actor_id))


async def moderated(db: Database, *, limit: int = 200) -> list[tuple[Actor, Standing]]:
    """Suspended and silenced accounts, most recently moderated first (the admin's list)."""
    rows = await db.fetchall(
        f"SELECT {ACTOR_COLUMNS}, suspended_at, silenced_at FROM actors"
        " WHERE suspended_at IS NOT NULL OR silenced_at IS NOT NULL"
        " ORDER BY MAX(COALESCE(suspended_at, 0), COALESCE(silenced_at, 0)) DESC LIMIT ?",
        (limit,),
    )
    return [(row_to_actor(r), Standing(r["suspended_at"], r["silenced_at"])) for r in rows]


async def revoke_access(db: Database, actor_id: int, *, now: float) -> None:
    """End the account's browser sessions and client API tokens (a suspension)."""
    async with db.write() as conn:
        await conn.execute("DELETE FROM sessions WHERE actor_id = ?", (actor_id,))
        await conn.execute(
            "UPDATE oauth_tokens SET revoked_at = ? WHERE actor_id = ? AND revoked_at IS NULL",
            (now, actor_id),
        )
