"""Where a user stopped reading (migration 0018): Mastodon's markers, one per timeline, so
that every app of the user opens the home timeline and notifications where the last left off."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .db import Database

TIMELINES = ("home", "notifications")


@dataclass(frozen=True)
class Marker:
    timeline: str
    last_read_id: str
    version: int
    updated_at: float


async def get(db: Database, actor_id: int, timelines: Sequence[str]) -> list[Marker]:
    wanted = [t for t in TIMELINES if t in timelines]
    if not wanted:
        return []
    marks = ",".join("?" * len(wanted))
    rows = await db.fetchall(
        "SELECT timeline, last_read_id, version, updated_at FROM markers"
        f" WHERE actor_id = ? AND timeline IN ({marks})",
        (actor_id, *wanted),
    )
    return [Marker(*r) for r in rows]


async def save(
    db: Database, actor_id: int, timeline: str, last_read_id: str, *, now: float
) -> None:
    """Move a marker; its version counts the moves (apps compare it to spot a stale copy)."""
    await db.execute(
        "INSERT INTO markers (actor_id, timeline, last_read_id, version, updated_at)"
        " VALUES (?, ?, ?, 1, ?) ON CONFLICT (actor_id, timeline) DO UPDATE SET"
        " last_read_id = excluded.last_read_id, version = markers.version + 1,"
        " updated_at = excluded.updated_at",
        (actor_id, timeline, last_read_id, now),
    )
