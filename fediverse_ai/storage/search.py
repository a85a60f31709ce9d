"""What ``/api/v2/search`` looks up in the database: a note by its id or web URL, and
hashtags by prefix, most used first."""

from __future__ import annotations

from ..models import Note
from .db import Database
from .notes import _COLUMNS as NOTE_COLUMNS
from .notes import row_to_note


async def note_by_address(db: Database, address: str) -> Note | None:
    """The stored note whose ActivityPub id or web page URL is ``address``."""
    row = await db.fetchone(
        f"SELECT {NOTE_COLUMNS} FROM notes WHERE uri = ? UNION ALL"
        f" SELECT {NOTE_COLUMNS} FROM notes WHERE url = ? LIMIT 1",
        (address, address),
    )
    return row_to_note(row) if row else None


async def hashtags(db: Database, prefix: str, limit: int) -> list[tuple[str, int]]:
    """Hashtags starting with ``prefix`` (lower case) and how many notes use each."""
    escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    rows = await db.fetchall(
        "SELECT name, COUNT(*) AS uses FROM note_hashtags WHERE name LIKE ? ESCAPE '\\'"
        " GROUP BY name ORDER BY uses DESC, name LIMIT ?",
        (escaped + "%", limit),
    )
    return [(r[0], r[1]) for r in rows]
