"""Media rows: local uploads and remote attachments, ordered within their note."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from ..models import Media, NewAttachment
from .db import Database

_COLUMNS = (
    "id, note_id, actor_id, local, position, url, file_name, media_type, width, height, blurhash,"
    " description, ai_generated, sensitive"
)


def row_to_media(row: sqlite3.Row) -> Media:
    return Media(
        id=row["id"],
        note_id=row["note_id"],
        actor_id=row["actor_id"],
        local=bool(row["local"]),
        position=row["position"],
        url=row["url"],
        file_name=row["file_name"],
        media_type=row["media_type"],
        width=row["width"],
        height=row["height"],
        blurhash=row["blurhash"],
        description=row["description"],
        ai_generated=bool(row["ai_generated"]),
        sensitive=bool(row["sensitive"]),
    )


def insert(
    conn: sqlite3.Connection,
    *,
    note_id: int | None,
    actor_id: int,
    local: bool,
    position: int,
    url: str,
    media_type: str,
    file_name: str | None,
    width: int | None,
    height: int | None,
    blurhash: str | None,
    description: str,
    ai_generated: bool,
    now: float,
    sensitive: bool = False,
) -> int:
    cur = conn.execute(
        "INSERT INTO media (note_id, actor_id, local, position, url, file_name, media_type, width,"
        " height, blurhash, description, ai_generated, created_at, sensitive)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            note_id,
            actor_id,
            int(local),
            position,
            url,
            file_name,
            media_type,
            width,
            height,
            blurhash,
            description,
            int(ai_generated),
            now,
            int(sensitive),
        ),
    )
    return int(cur.lastrowid or 0)


def insert_local(
    conn: sqlite3.Connection,
    att: NewAttachment,
    *,
    note_id: int,
    actor_id: int,
    position: int,
    url: str,
    file_name: str,
    now: float,
) -> int:
    """A processed picture of a local note, its file written under ``file_name``."""
    return insert(
        conn,
        note_id=note_id,
        actor_id=actor_id,
        local=True,
        position=position,
        url=url,
        media_type=att.media_type,
        file_name=file_name,
        width=att.width,
        height=att.height,
        blurhash=att.blurhash,
        description=att.description,
        ai_generated=att.ai_generated,
        now=now,
    )


async def for_note(db: Database, note_id: int) -> list[Media]:
    rows = await db.fetchall(
        f"SELECT {_COLUMNS} FROM media WHERE note_id = ? ORDER BY position", (note_id,)
    )
    return [row_to_media(r) for r in rows]


async def for_notes(db: Database, note_ids: Sequence[int]) -> dict[int, list[Media]]:
    if not note_ids:
        return {}
    marks = ",".join("?" * len(note_ids))
    rows = await db.fetchall(
        f"SELECT {_COLUMNS} FROM media WHERE note_id IN ({marks}) ORDER BY note_id, position",
        tuple(note_ids),
    )
    out: dict[int, list[Media]] = {}
    for r in rows:
        m = row_to_media(r)
        out.setdefault(m.note_id or 0, []).append(m)
    return out


async def local_by_file_name(db: Database, file_name: str) -> Media | None:
    row = await db.fetchone(
        f"SELECT {_COLUMNS} FROM media WHERE local = 1 AND file_name = ?", (file_name,)
    )
    return row_to_media(row) if row else None


def delete_remote_for_note(conn: sqlite3.Connection, note_id: int) -> None:
    conn.execute("DELETE FROM media WHERE note_id = ? AND local = 0", (note_id,))


async def insert_profile_image(
    db: Database,
    *,
    actor_id: int,
    url: str,
    file_name: str,
    width: int,
    height: int,
    now: float,
    media_type: str = "image/png",
    blurhash: str | None = None,
) -> None:
    """An avatar or header: a media row without a note, so /media can serve it."""
    await db.transaction(
        lambda conn: insert(
            conn,
            note_id=None,
            actor_id=actor_id,
            local=True,
            position=0,
            url=url,
            media_type=media_type,
            file_name=file_name,
            width=width,
            height=height,
            blurhash=blurhash,
            description="",
            ai_generated=False,
            now=now,
        )
    )
