"""What a user keeps of statuses (migration 0018): bookmarks (private), pins (shown on the
profile and in the actor's ``featured`` collection), and the list of their favourites."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from ..models import Note
from .client_api import IdWindow, _newest_first, _window
from .db import Database
from .notes import _COLUMNS as NOTE_COLUMNS
from .notes import row_to_note

_N_COLS = ", ".join("n." + c.strip() for c in NOTE_COLUMNS.split(","))
#: Mastodon's limit on pinned statuses per account.
MAX_PINS = 5


async def bookmark(db: Database, actor_id: int, note_id: int, *, now: float) -> None:
    await db.execute(
        "INSERT INTO bookmarks (actor_id, note_id, created_at) VALUES (?, ?, ?)"
        " ON CONFLICT DO NOTHING",
        (actor_id, note_id, now),
    )


async def unbookmark(db: Database, actor_id: int, note_id: int) -> None:
    await db.execute(
        "DELETE FROM bookmarks WHERE actor_id = ? AND note_id = ?", (actor_id, note_id)
    )


async def _page(db: Database, sql: str, actor_id: int, w: IdWindow) -> list[tuple[int, Note]]:
    cond, values, order = _window("k.id", w)
    rows = await db.fetchall(f"{sql}{cond}{order}", (actor_id, *values, w.limit))
    return _newest_first([(r["kid"], row_to_note(r)) for r in rows], w)


async def bookmarks(db: Database, actor_id: int, w: IdWindow) -> list[tuple[int, Note]]:
    """(bookmark id, note) of the user's bookmarks, paged by bookmark id (newest first)."""
    sql = (
        f"SELECT k.id AS kid, {_N_COLS} FROM bookmarks k JOIN notes n ON n.id = k.note_id"
        " WHERE k.actor_id = ?"
    )
    return await _page(db, sql, actor_id, w)


async def favourites(db: Database, actor_id: int, w: IdWindow) -> list[tuple[int, Note]]:
    """(like id, note) of what the user liked, paged by the like's id."""
    sql = (
        f"SELECT k.id AS kid, {_N_COLS} FROM reactions k JOIN notes n ON n.id = k.note_id"
        " WHERE k.actor_id = ? AND k.kind = 'like'"
    )
    return await _page(db, sql, actor_id, w)


async def pin(db: Database, actor_id: int, note_id: int, *, now: float) -> bool:
    """Pin one of the user's notes; False when :data:`MAX_PINS` are pinned already."""

    def work(conn: sqlite3.Connection) -> bool:
        if conn.execute("SELECT 1 FROM pins WHERE note_id = ?", (note_id,)).fetchone():
            return True
        count = conn.execute("SELECT count(*) FROM pins WHERE actor_id = ?", (actor_id,))
        if count.fetchone()[0] >= MAX_PINS:
            return False
        conn.execute(
            "INSERT INTO pins (actor_id, note_id, created_at) VALUES (?, ?, ?)",
            (actor_id, note_id, now),
        )
        return True

    return await db.transaction(work)


async def unpin(db: Database, actor_id: int, note_id: int) -> None:
    await db.execute("DELETE FROM pins WHERE actor_id = ? AND note_id = ?", (actor_id, note_id))


async def pinned(db: Database, actor_id: int) -> list[Note]:
    """The user's pinned notes, the last pinned first (as Mastodon lists them)."""
    rows = await db.fetchall(
        f"SELECT {_N_COLS} FROM pins k JOIN notes n ON n.id = k.note_id"
        " WHERE k.actor_id = ? ORDER BY k.id DESC",
        (actor_id,),
    )
    return [row_to_note(r) for r in rows]


async def flags(db: Database, viewer_id: int, note_ids: Sequence[int]) -> tuple[set[int], set[int]]:
    """(bookmarked by the viewer, pinned by the viewer) among ``note_ids``."""
    if not note_ids:
        return set(), set()
    marks = ",".join("?" * len(note_ids))
    found = []
    for table in ("bookmarks", "pins"):
        rows = await db.fetchall(
            f"SELECT note_id FROM {table} WHERE actor_id = ? AND note_id IN ({marks})",
            (viewer_id, *note_ids),
        )
        found.append({r[0] for r in rows})
    return found[0], found[1]
