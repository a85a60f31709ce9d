"""Mutes (migration 0014) and the accounts a local user does not want to see: those they
muted, those they blocked and those who blocked them (the ``blocks`` table)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .db import Database


@dataclass(frozen=True)
class Hidden:
    """Whom a viewer's timelines leave out, and whose notifications they do not get."""

    from_timelines: frozenset[int]
    from_notifications: frozenset[int]


async def mute(
    db: Database,
    actor_id: int,
    target_id: int,
    *,
    notifications: bool,
    expires_at: float | None,
    now: float,
) -> None:
    await db.execute(
        "INSERT INTO mutes (actor_id, target_id, notifications, expires_at, created_at)"
        " VALUES (?, ?, ?, ?, ?) ON CONFLICT (actor_id, target_id) DO UPDATE SET"
        " notifications = excluded.notifications, expires_at = excluded.expires_at",
        (actor_id, target_id, int(notifications), expires_at, now),
    )


async def unmute(db: Database, actor_id: int, target_id: int) -> None:
    await db.execute(
        "DELETE FROM mutes WHERE actor_id = ? AND target_id = ?", (actor_id, target_id)
    )


async def muting(
    db: Database, actor_id: int, others: Sequence[int], *, now: float
) -> dict[int, bool]:
    """Of ``others``, those ``actor_id`` mutes now, each with whether notifications are too."""
    if not others:
        return {}
    marks = ",".join("?" * len(others))
    rows = await db.fetchall(
        f"SELECT target_id, notifications FROM mutes WHERE actor_id = ? AND target_id IN ({marks})"
        " AND (expires_at IS NULL OR expires_at > ?)",
        (actor_id, *others, now),
    )
    return {r[0]: bool(r[1]) for r in rows}


async def hidden(db: Database, actor_id: int, *, now: float) -> Hidden:
    """Everyone ``actor_id`` should not see, in two small queries."""
    muted = await db.fetchall(
        "SELECT target_id, notifications FROM mutes WHERE actor_id = ?"
        " AND (expires_at IS NULL OR expires_at > ?)",
        (actor_id, now),
    )
    blocked = await db.fetchall(
        "SELECT target_id FROM blocks WHERE actor_id = ?"
        " UNION SELECT actor_id FROM blocks WHERE target_id = ?",
        (actor_id, actor_id),
    )
    blocks = {r[0] for r in blocked}
    return Hidden(
        from_timelines=frozenset({r[0] for r in muted} | blocks),
        from_notifications=frozenset({r[0] for r in muted if r[1]} | blocks),
    )


async def block_uri(db: Database, actor_id: int, target_id: int) -> str | None:
    """The id of the Block activity ``actor_id`` sent ``target_id`` (for its Undo)."""
    value = await db.fetchval(
        "SELECT uri FROM blocks WHERE actor_id = ? AND target_id = ?", (actor_id, target_id)
    )
    return str(value) if value else None


async def blocked_list(db: Database, actor_id: int, limit: int) -> list[int]:
    rows = await db.fetchall(
        "SELECT target_id FROM blocks WHERE actor_id = ? ORDER BY id DESC LIMIT ?",
        (actor_id, limit),
    )
    return [r[0] for r in rows]


async def muted_list(db: Database, actor_id: int, limit: int, *, now: float) -> list[int]:
    rows = await db.fetchall(
        "SELECT target_id FROM mutes WHERE actor_id = ? AND (expires_at IS NULL OR expires_at > ?)"
        " ORDER BY created_at DESC LIMIT ?",
        (actor_id, now, limit),
    )
    return [r[0] for r in rows]
