"""Uploads of the client API: a ``media`` row without a note until a status attaches it,
plus its owner and focal point (migration 0014)."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass

from ..models import Media
from . import jobs, media
from .db import Database

#: The job that deletes an upload no status used, a day after it was made (as Mastodon does).
EXPIRE_JOB = "api_media_expire"
UNATTACHED_SECONDS = 86_400.0


@dataclass(frozen=True)
class Upload:
    """An uploaded image and what the API says about it beyond the media row."""

    media: Media
    actor_id: int
    focus: tuple[float, float]

    @property
    def attached(self) -> bool:
        return self.media.note_id is not None


_SELECT = (
    "SELECT m.id, m.note_id, m.actor_id, m.local, m.position, m.url, m.file_name, m.media_type,"
    " m.width, m.height, m.blurhash, m.description, m.ai_generated, m.sensitive,"
    " u.actor_id AS owner_id, u.focus_x, u.focus_y"
    " FROM api_media u JOIN media m ON m.id = u.media_id"
)


def _row(row: sqlite3.Row) -> Upload:
    return Upload(media.row_to_media(row), row["owner_id"], (row["focus_x"], row["focus_y"]))


async def create(
    db: Database,
    *,
    actor_id: int,
    url: str,
    file_name: str,
    media_type: str,
    width: int,
    height: int,
    blurhash: str,
    description: str,
    focus: tuple[float, float],
    now: float,
) -> int:
    """Store an upload whose file is already on disk; returns the media id."""

    def work(conn: sqlite3.Connection) -> int:
        media_id = media.insert(
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
            description=description,
            ai_generated=False,
            now=now,
        )
        conn.execute(
            "INSERT INTO api_media (media_id, actor_id, focus_x, focus_y, created_at)"
            " VALUES (?, ?, ?, ?, ?)",
            (media_id, actor_id, focus[0], focus[1], now),
        )
        # Queued with the row, so no upload is left without its expiry (crash, restart).
        jobs.enqueue_in(
            conn,
            EXPIRE_JOB,
            {"media_id": media_id},
            now=now,
            dedupe_key=f"{EXPIRE_JOB}:{media_id}",
            run_after=now + UNATTACHED_SECONDS,
        )
        return media_id

    return await db.transaction(work)


async def get(db: Database, media_id: int) -> Upload | None:
    row = await db.fetchone(f"{_SELECT} WHERE u.media_id = ?", (media_id,))
    return _row(row) if row else None


async def focus_of(db: Database, media_ids: Sequence[int]) -> dict[int, tuple[float, float]]:
    """The focal points of those of ``media_ids`` that were uploaded through the API."""
    if not media_ids:
        return {}
    marks = ",".join("?" * len(media_ids))
    rows = await db.fetchall(
        f"SELECT media_id, focus_x, focus_y FROM api_media WHERE media_id IN ({marks})",
        tuple(media_ids),
    )
    return {r["media_id"]: (r["focus_x"], r["focus_y"]) for r in rows}


async def update(
    db: Database, media_id: int, *, description: str | None, focus: tuple[float, float] | None
) -> bool:
    """Change an unattached upload; False when it was attached meanwhile (or is gone)."""

    def work(conn: sqlite3.Connection) -> bool:
        if description is not None:
            cur = conn.execute(
                "UPDATE media SET description = ? WHERE id = ? AND note_id IS NULL",
                (description, media_id),
            )
            if cur.rowcount == 0:
                return False
        if focus is not None:
            conn.execute(
                "UPDATE api_media SET focus_x = ?, focus_y = ? WHERE media_id = ?"
                " AND EXISTS (SELECT 1 FROM media WHERE id = ? AND note_id IS NULL)",
                (focus[0], focus[1], media_id, media_id),
            )
        return True

    return await db.transaction(work)


def attach(conn: sqlite3.Connection, media_id: int, note_id: int, position: int) -> None:
    """Give an unattached upload to a new note, inside the note's transaction. Raises
    :class:`LookupError` when another status took it first, which rolls the note back."""
    cur = conn.execute(
        "UPDATE media SET note_id = ?, position = ? WHERE id = ? AND note_id IS NULL",
        (note_id, position, media_id),
    )
    if cur.rowcount != 1:
        raise LookupError(f"media {media_id} is already attached")


def reattach(
    conn: sqlite3.Connection, note_id: int, media_ids: Sequence[int], *, dropped: Sequence[int]
) -> None:
    """An edit's attachments, in order: the note's own kept, uploads attached, ``dropped``
    deleted. Raises :class:`LookupError` when one is another note's (the edit rolls back)."""
    conn.executemany(
        "DELETE FROM media WHERE id = ? AND note_id = ?", [(m, note_id) for m in dropped]
    )
    for position, media_id in enumerate(media_ids):
        cur = conn.execute(
            "UPDATE media SET note_id = ?, position = ? WHERE id = ?"
            " AND (note_id = ? OR (note_id IS NULL"
            " AND id IN (SELECT media_id FROM api_media)))",
            (note_id, position, media_id, note_id),
        )
        if cur.rowcount != 1:
            raise LookupError(f"media {media_id} is not this note's nor an upload")


def describe_in(
    conn: sqlite3.Connection,
    note_id: int,
    media_id: int,
    *,
    description: str | None,
    focus: tuple[float, float] | None,
) -> None:
    """An edit's new alt text or focal point of one of the note's attachments (Mastodon 4's
    ``media_attributes``), inside the edit's transaction, after the history kept the old."""
    if description is not None:
        conn.execute(
            "UPDATE media SET description = ? WHERE id = ? AND note_id = ?",
            (description, media_id, note_id),
        )
    if focus is not None:
        conn.execute(
            "UPDATE api_media SET focus_x = ?, focus_y = ? WHERE media_id = ?"
            " AND EXISTS (SELECT 1 FROM media WHERE id = ? AND note_id = ?)",
            (focus[0], focus[1], media_id, media_id, note_id),
        )


async def pending_count(db: Database, actor_id: int) -> int:
    """How many of an account's uploads wait for a status."""
    value = await db.fetchval(
        "SELECT count(*) FROM api_media u JOIN media m ON m.id = u.media_id"
        " WHERE u.actor_id = ? AND m.note_id IS NULL",
        (actor_id,),
    )
    return int(value or 0)


async def delete_unattached(db: Database, media_id: int) -> str | None:
    """Delete an upload no status used; its file name, or None when it is attached or gone."""

    def work(conn: sqlite3.Connection) -> str | None:
        row = conn.execute(
            "SELECT m.file_name FROM media m JOIN api_media u ON u.media_id = m.id"
            " WHERE m.id = ? AND m.note_id IS NULL",
            (media_id,),
        ).fetchone()
        if row is None:
            return None
        conn.execute("DELETE FROM media WHERE id = ? AND note_id IS NULL", (media_id,))
        return str(row[0]) if row[0] else None

    return await db.transaction(work)
