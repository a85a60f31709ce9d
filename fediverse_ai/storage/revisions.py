"""Earlier versions of edited notes (migration 0018): what ``GET /api/v1/statuses/:id/history``
shows. :func:`record_in` runs inside every edit's transaction, local or remote, before the
new version is written, so no edit path can forget it."""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from dataclasses import dataclass

from ..models import Media
from .db import Database
from .media import _COLUMNS as MEDIA_COLUMNS
from .media import row_to_media

#: Versions kept per note: a peer that edits a post in a loop cannot fill the disk.
MAX_PER_NOTE = 50


@dataclass(frozen=True)
class Revision:
    """One version of a note as it was shown, with its attachments at the time."""

    content: str
    summary: str | None
    sensitive: bool
    media: tuple[Media, ...]
    created_at: float
    replaced_at: float


def record_in(conn: sqlite3.Connection, note_id: int, *, replaced_at: float) -> None:
    """Keep the note's current version, about to be replaced by an edit at ``replaced_at``."""
    row = conn.execute(
        "SELECT content, summary, sensitive, published, updated FROM notes WHERE id = ?",
        (note_id,),
    ).fetchone()
    if row is None:
        return
    attached = conn.execute(
        f"SELECT {MEDIA_COLUMNS} FROM media WHERE note_id = ? ORDER BY position", (note_id,)
    ).fetchall()
    snapshot = [dataclasses.asdict(row_to_media(m)) for m in attached]
    conn.execute(
        "INSERT INTO note_revisions (note_id, content, summary, sensitive, media_json,"
        " created_at, replaced_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (
            note_id,
            row[0],
            row[1],
            int(row[2]),
            json.dumps(snapshot),
            row[4] if row[4] is not None else row[3],
            replaced_at,
        ),
    )
    conn.execute(
        "DELETE FROM note_revisions WHERE note_id = ? AND id NOT IN"
        " (SELECT id FROM note_revisions WHERE note_id = ? ORDER BY id DESC LIMIT ?)",
        (note_id, note_id, MAX_PER_NOTE),
    )


async def for_note(db: Database, note_id: int) -> list[Revision]:
    """The replaced versions of a note, oldest first."""
    rows = await db.fetchall(
        "SELECT content, summary, sensitive, media_json, created_at, replaced_at"
        " FROM note_revisions WHERE note_id = ? ORDER BY id",
        (note_id,),
    )
    return [
        Revision(
            content=r[0],
            summary=r[1],
            sensitive=bool(r[2]),
            media=tuple(Media(**m) for m in json.loads(r[3])),
            created_at=r[4],
            replaced_at=r[5],
        )
        for r in rows
    ]
