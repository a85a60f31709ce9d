"""The ``stream_events`` table: the streaming API's events between processes (issue 15).

``streams.Broker`` appends a row for each event it publishes and, while it has streams open,
reads the rows after the last id it saw. SQLite runs one write transaction at a time, so ids
are committed in order and "after the last id" misses nothing. On PostgreSQL a row added
wakes the readers (a trigger's NOTIFY, :mod:`.notify`); its sequences can commit out of order,
which reading after the last id does not handle yet (an event may be skipped).

``stream_readers`` says which processes read: a reader renews its row while it has streams
open, and a publisher asks (at most once a second) whether any other process does.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass

from .db import Database

_COLUMNS = "origin, kind, note_id, actor_id, recipient_id, announce_id, at, deleted, created_at"
_INSERT = f"INSERT INTO stream_events ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"


@dataclass(frozen=True)
class EventRow:
    """One published event. ``kind`` is a note event's (``new``, ``boost``...) or
    ``notice:`` and a notification's kind; ``actor_id`` the booster or the notifying account;
    ``at`` a boost's or a notification's stored time; ``deleted`` a deleted note's audience."""

    origin: str
    kind: str
    note_id: int | None = None
    actor_id: int | None = None
    recipient_id: int | None = None
    announce_id: int | None = None
    at: float | None = None
    deleted: str | None = None
    created_at: float = 0.0
    id: int = 0


def _row(row: sqlite3.Row) -> EventRow:
    return EventRow(
        id=int(row["id"]),
        origin=row["origin"],
        kind=row["kind"],
        note_id=row["note_id"],
        actor_id=row["actor_id"],
        recipient_id=row["recipient_id"],
        announce_id=row["announce_id"],
        at=row["at"],
        deleted=row["deleted"],
        created_at=float(row["created_at"]),
    )


async def append(db: Database, events: Sequence[EventRow]) -> None:
    """Store ``events`` in one transaction, in their order."""
    await db.executemany(
        _INSERT,
        [
            (
                e.origin,
                e.kind,
                e.note_id,
                e.actor_id,
                e.recipient_id,
                e.announce_id,
                e.at,
                e.deleted,
                e.created_at,
            )
            for e in events
        ],
    )


async def newest_id(db: Database) -> int:
    """Where a reader starts: events stored before it are not replayed."""
    return int(await db.fetchval("SELECT COALESCE(MAX(id), 0) FROM stream_events") or 0)


async def after(db: Database, last_id: int, *, limit: int) -> list[EventRow]:
    """The events stored after ``last_id``, oldest first (one walk of the primary key)."""
    rows = await db.fetchall(
        f"SELECT id, {_COLUMNS} FROM stream_events WHERE id > ? ORDER BY id LIMIT ?",
        (last_id, limit),
    )
    return [_row(r) for r in rows]


async def reading(db: Database, origin: str, *, until: float) -> None:
    """Say that ``origin`` reads the events until ``until`` (renewed while it does)."""
    await db.execute(
        "INSERT INTO stream_readers (origin, expires_at) VALUES (?, ?)"
        " ON CONFLICT (origin) DO UPDATE SET expires_at = excluded.expires_at",
        (origin, until),
    )


async def done_reading(db: Database, origin: str) -> None:
    await db.execute("DELETE FROM stream_readers WHERE origin = ?", (origin,))


async def others_read(db: Database, origin: str, *, now: float) -> bool:
    """Whether a process other than ``origin`` reads the events now."""
    found = await db.fetchval(
        "SELECT 1 FROM stream_readers WHERE origin <> ? AND expires_at > ? LIMIT 1",
        (origin, now),
    )
    return found is not None
