"""Local custom emoji: one row per shortcode an admin uploaded, with its picture's file."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass

from .db import Database

_COLUMNS = (
    "id, shortcode, file_name, media_type, width, height, size, category, visible_in_picker,"
    " created_at, updated_at"
)


@dataclass(frozen=True)
class LocalEmoji:
    id: int
    shortcode: str
    file_name: str  # under storage.media_dir/emoji/
    media_type: str
    width: int
    height: int
    size: int
    category: str | None
    visible_in_picker: bool
    created_at: float
    updated_at: float


def _row(row: sqlite3.Row) -> LocalEmoji:
    return LocalEmoji(
        id=row["id"],
        shortcode=row["shortcode"],
        file_name=row["file_name"],
        media_type=row["media_type"],
        width=row["width"],
        height=row["height"],
        size=row["size"],
        category=row["category"],
        visible_in_picker=bool(row["visible_in_picker"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


async def add(
    db: Database,
    *,
    shortcode: str,
    file_name: str,
    media_type: str,
    width: int,
    height: int,
    size: int,
    category: str | None,
    now: float,
) -> LocalEmoji | None:
    """Insert a new emoji; None when the shortcode is taken (in any letter case)."""
    async with db.write() as conn:
        cur = await conn.execute(
            "INSERT INTO custom_emojis (shortcode, file_name, media_type, width, height, size,"
            " category, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT(shortcode) DO NOTHING",
            (shortcode, file_name, media_type, width, height, size, category, now, now),
        )
        if cur.rowcount == 0:
            return None
    return await by_shortcode(db, shortcode)


async def by_shortcode(db: Database, shortcode: str) -> LocalEmoji | None:
    row = await db.fetchone(
        f"SELECT {_COLUMNS} FROM custom_emojis WHERE shortcode = ?", (shortcode,)
    )
    return _row(row) if row else None


async def by_file_name(db: Database, file_name: str) -> LocalEmoji | None:
    row = await db.fetchone(
        f"SELECT {_COLUMNS} FROM custom_emojis WHERE file_name = ?", (file_name,)
    )
    return _row(row) if row else None


async def by_shortcodes(db: Database, shortcodes: Sequence[str]) -> dict[str, LocalEmoji]:
    """The emoji among ``shortcodes``, by their exact spelling (``:Blob:`` is not ``:blob:``)."""
    wanted = list(dict.fromkeys(shortcodes))[:500]
    if not wanted:
        return {}
    marks = ", ".join("?" for _ in wanted)
    rows = await db.fetchall(
        f"SELECT {_COLUMNS} FROM custom_emojis WHERE shortcode COLLATE BINARY IN ({marks})",
        wanted,
    )
    return {r["shortcode"]: _row(r) for r in rows}


async def all_emoji(db: Database) -> list[LocalEmoji]:
    rows = await db.fetchall(f"SELECT {_COLUMNS} FROM custom_emojis ORDER BY shortcode")
    return [_row(r) for r in rows]


async def remove(db: Database, shortcode: str) -> LocalEmoji | None:
    """Delete an emoji; returns what was deleted (its file is the caller's to remove)."""
    found = await by_shortcode(db, shortcode)
    if found is None:
        return None
    await db.execute("DELETE FROM custom_emojis WHERE id = ?", (found.id,))
    return found
