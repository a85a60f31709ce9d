"""Follow relations in both directions, with their state."""

from __future__ import annotations

import sqlite3

from ..models import Actor, Follow
from .actors import _COLUMNS as ACTOR_COLUMNS
from .actors import row_to_actor
from .db import Database

_A_COLS = ", ".join("a." + c.strip() for c in ACTOR_COLUMNS.split(","))


def _row(row: sqlite3.Row) -> Follow:
    return Follow(
        id=row["id"],
        uri=row["uri"],
        follower_id=row["follower_id"],
        followee_id=row["followee_id"],
        state=row["state"],
    )


async def get(db: Database, follower_id: int, followee_id: int) -> Follow | None:
    row = await db.fetchone(
        "SELECT id, uri, follower_id, followee_id, state FROM follows"
        " WHERE follower_id = ? AND followee_id = ?",
        (follower_id, followee_id),
    )
    return _row(row) if row else None


async def by_uri(db: Database, uri: str) -> Follow | None:
    row = await db.fetchone(
        "SELECT id, uri, follower_id, followee_id, state FROM follows WHERE uri = ?", (uri,)
    )
    return _row(row) if row else None


async def upsert(
    db: Database, *, follower_id: int, followee_id: int, uri: str | None, state: str, now: float
) -> Follow:
    """Record a follow; a repeated Follow keeps an accepted state (it only resends Accept)."""
    async with db.write() as conn:
        await conn.execute(
            "INSERT INTO follows (uri, follower_id, followee_id, state, created_at)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT(follower_id, followee_id) DO UPDATE SET"
            " uri = excluded.uri,"
            " state = CASE WHEN follows.state = 'accepted' THEN 'accepted' ELSE excluded.state END",
            (uri, follower_id, followee_id, state, now),
        )
    found = await get(db, follower_id, followee_id)
    assert found is not None
    return found


async def set_notify(db: Database, follower_id: int, followee_id: int, notify: bool) -> None:
    """Whether the follower is told of each new post of the followee (``status`` notifications)."""
    await db.execute(
        "UPDATE follows SET notify = ? WHERE follower_id = ? AND followee_id = ?",
        (int(notify), follower_id, followee_id),
    )


async def notifying(
    db: Database, *, follower_id: int | None = None, followee_id: int | None = None
) -> frozenset[int]:
    """Accepted follows with ``notify`` on: whom ``follower_id`` follows so, or who follows
    ``followee_id`` so (give one of the two)."""
    given, wanted = (
        ("follower_id", "followee_id")
        if follower_id is not None
        else ("followee_id", "follower_id")
    )
    rows = await db.fetchall(
        f"SELECT {wanted} FROM follows WHERE {given} = ? AND notify = 1 AND state = 'accepted'",
        (follower_id if follower_id is not None else followee_id,),
    )
    return frozenset(int(r[0]) for r in rows)


async def set_state(db: Database, follow_id: int, state: str) -> None:
    await db.execute("UPDATE follows SET state = ? WHERE id = ?", (state, follow_id))


async def remove(db: Database, follower_id: int, followee_id: int) -> bool:
    async with db.write() as conn:
        cur = await conn.execute(
            "DELETE FROM follows WHERE follower_id = ? AND followee_id = ?",
            (follower_id, followee_id),
        )
        return cur.rowcount > 0


async def followers(
    db: Database, followee_id: int, *, state: str = "accepted", offset: int = 0, limit: int = 1000
) -> list[Actor]:
    rows = await db.fetchall(
        f"SELECT {_A_COLS} FROM follows f JOIN actors a ON a.id = f.follower_id"
        " WHERE f.followee_id = ? AND f.state = ? ORDER BY f.id LIMIT ? OFFSET ?",
        (followee_id, state, limit, offset),
    )
    return [row_to_actor(r) for r in rows]


async def following(
    db: Database, follower_id: int, *, offset: int = 0, limit: int = 1000
) -> list[Actor]:
    rows = await db.fetchall(
        f"SELECT {_A_COLS} FROM follows f JOIN actors a ON a.id = f.followee_id"
        " WHERE f.follower_id = ? AND f.state = 'accepted' ORDER BY f.id LIMIT ? OFFSET ?",
        (follower_id, limit, offset),
    )
    return [row_to_actor(r) for r in rows]


async def count_followers(db: Database, followee_id: int) -> int:
    return int(
        await db.fetchval(
            "SELECT COUNT(*) FROM follows WHERE followee_id = ? AND state = 'accepted'",
            (followee_id,),
        )
        or 0
    )


async def count_following(db: Database, follower_id: int) -> int:
    return int(
        await db.fetchval(
            "SELECT COUNT(*) FROM follows WHERE follower_id = ? AND state = 'accepted'",
            (follower_id,),
        )
        or 0
    )


async def follower_inboxes(db: Database, followee_id: int) -> list[str]:
    """Each remote follower's shared inbox (else personal inbox), de-duplicated."""
    rows = await db.fetchall(
        "SELECT DISTINCT COALESCE(a.shared_inbox, a.inbox) FROM follows f"
        " JOIN actors a ON a.id = f.follower_id WHERE f.followee_id = ? AND f.state = 'accepted'"
        " AND a.local = 0 AND COALESCE(a.shared_inbox, a.inbox) IS NOT NULL",
        (followee_id,),
    )
    return [r[0] for r in rows]


async def involving(db: Database, actor_id: int) -> list[Follow]:
    """Every follow of or by ``actor_id``, in either state."""
    rows = await db.fetchall(
        "SELECT id, uri, follower_id, followee_id, state FROM follows"
        " WHERE follower_id = ? OR followee_id = ? ORDER BY id",
        (actor_id, actor_id),
    )
    return [_row(r) for r in rows]


async def remote_ids_with_follows(db: Database) -> list[int]:
    """The remote actors that follow, or are followed by, anyone here."""
    rows = await db.fetchall(
        "SELECT id FROM actors WHERE local = 0 AND id IN"
        " (SELECT follower_id FROM follows UNION SELECT followee_id FROM follows) ORDER BY id",
        (),
    )
    return [int(r[0]) for r in rows]
