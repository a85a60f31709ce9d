"""Machine-written descriptions of remote pictures that came without alt text, and who wants them.

A description is worth writing only for a picture someone here will see described, so the
``describe_image`` jobs are queued when a remote picture is cached (or stored already cached)
and at least one local account has asked for descriptions; the job checks consent itself.
The dedupe key carries the media row's creation time: SQLite may give a new row the id of a
deleted one (an edit replaces a post's attachments), and that new row needs its own job.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass

from ..models import Media
from . import jobs
from .db import Database
from .media import _COLUMNS as MEDIA_COLUMNS
from .media import row_to_media

DESCRIBE_JOB = "describe_image"
# A picture a peer marked sensitive is not described (there is no "always show sensitive
# media" setting to honour), nor one that has a description of its own.
_WANTED = (
    "m.local = 0 AND m.description = '' AND m.sensitive = 0 AND r.state = 'done'"
    " AND r.media_type LIKE 'image/%'"
    " AND EXISTS (SELECT 1 FROM ai_preferences p WHERE p.describe_images = 1)"
)


@dataclass(frozen=True)
class MachineAlt:
    text: str
    source: str  # "offline", or "backend: model"


def _queue(conn: sqlite3.Connection, match: str, value: str | int, now: float) -> int:
    """Queue a job for each wanted attachment whose ``match`` column (``m.url`` or
    ``m.note_id``, never input) equals ``value``."""
    rows = conn.execute(
        "SELECT m.id, m.created_at FROM media m JOIN remote_files r ON r.url = m.url"
        f" WHERE {match} = ? AND {_WANTED}",
        (value,),
    ).fetchall()
    return _enqueue(conn, rows, now)


def _enqueue(conn: sqlite3.Connection, rows: Sequence[sqlite3.Row], now: float) -> int:
    queued = 0
    for media_id, created_at in rows:
        if jobs.enqueue_in(
            conn,
            DESCRIBE_JOB,
            {"media_id": media_id},
            now=now,
            dedupe_key=f"alt:{media_id}:{created_at!r}",
        ):
            queued += 1
    return queued


async def queue_for_url(db: Database, url: str, *, now: float) -> int:
    """Queue descriptions for the attachments showing ``url``, a picture just cached."""
    return await db.transaction(lambda conn: _queue(conn, "m.url", url, now))


def queue_for_note_in(conn: sqlite3.Connection, note_id: int, *, now: float) -> int:
    """Queue descriptions for a stored note's pictures that are cached already (the same file
    in an earlier post, or a post edited), inside the caller's transaction."""
    return _queue(conn, "m.note_id", note_id, now)


async def queue_recent(db: Database, *, since: float, limit: int, now: float) -> int:
    """Queue descriptions for the newest wanted pictures stored since ``since`` (a user just
    opted in: the pictures already on their timelines, not only those that arrive later)."""

    def work(conn: sqlite3.Connection) -> int:
        rows = conn.execute(
            "SELECT m.id, m.created_at FROM media m JOIN remote_files r ON r.url = m.url"
            f" WHERE m.created_at >= ? AND {_WANTED} ORDER BY m.created_at DESC LIMIT ?",
            (since, limit),
        ).fetchall()
        return _enqueue(conn, rows, now)

    return await db.transaction(work)


async def attachment(db: Database, media_id: int) -> Media | None:
    row = await db.fetchone(f"SELECT {MEDIA_COLUMNS} FROM media WHERE id = ?", (media_id,))
    return row_to_media(row) if row else None


async def get(db: Database, media_id: int) -> MachineAlt | None:
    row = await db.fetchone(
        "SELECT text, source FROM media_machine_alt WHERE media_id = ?", (media_id,)
    )
    return MachineAlt(str(row[0]), str(row[1])) if row else None


async def put(db: Database, media_id: int, text: str, *, source: str, now: float) -> bool:
    """Store a description; False when the attachment went meanwhile or has one already
    (a job run twice keeps the first)."""
    return await db.transaction(
        lambda conn: (
            conn.execute(
                "INSERT INTO media_machine_alt (media_id, text, source, created_at)"
                " SELECT id, ?, ?, ? FROM media WHERE id = ?"
                " ON CONFLICT(media_id) DO NOTHING",
                (text, source, now, media_id),
            ).rowcount
            > 0
        )
    )


async def for_media(db: Database, media_ids: Sequence[int]) -> dict[int, MachineAlt]:
    """The descriptions of a screenful of attachments, in one query."""
    if not media_ids:
        return {}
    marks = ",".join("?" * len(media_ids))
    rows = await db.fetchall(
        f"SELECT media_id, text, source FROM media_machine_alt WHERE media_id IN ({marks})",
        tuple(media_ids),
    )
    return {int(r[0]): MachineAlt(str(r[1]), str(r[2])) for r in rows}


async def wants(db: Database, actor_id: int) -> bool:
    """Whether a local account asked for descriptions of pictures that have none."""
    value = await db.fetchval(
        "SELECT describe_images FROM ai_preferences WHERE actor_id = ?", (actor_id,)
    )
    return bool(value)


async def set_wants(db: Database, actor_id: int, on: bool, *, now: float) -> None:
    """Save the switch; the other AI switches of the row keep their values."""
    await db.execute(
        "INSERT INTO ai_preferences (actor_id, describe_images, updated_at) VALUES (?, ?, ?)"
        " ON CONFLICT(actor_id) DO UPDATE SET describe_images = excluded.describe_images,"
        " updated_at = excluded.updated_at",
        (actor_id, int(on), now),
    )
