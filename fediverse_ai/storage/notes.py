"""Notes (local and remote), their mentions, hashtags and tombstones."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..models import Note, Visibility
from . import revisions
from .db import Database

_COLUMNS = (
    "id, uri, actor_id, local, url, content, source, summary, sensitive, language, visibility,"
    " in_reply_to_uri, context_uri, to_json, cc_json, tags_json, ai_generated, published,"
    " published_text, updated, updated_text, title"
)


@dataclass(frozen=True)
class NoteRow:
    """Everything needed to insert or replace a note."""

    uri: str
    actor_id: int
    local: bool
    content: str
    visibility: Visibility
    published: float
    published_text: str
    url: str | None = None
    source: str | None = None
    summary: str | None = None
    sensitive: bool = False
    language: str | None = None
    in_reply_to_uri: str | None = None
    context_uri: str | None = None
    to: Sequence[str] = ()
    cc: Sequence[str] = ()
    tags: Sequence[dict[str, Any]] = ()
    ai_generated: bool = False
    mentions: Sequence[str] = ()
    hashtags: Sequence[str] = ()
    updated: float | None = None
    updated_text: str | None = None
    raw_json: str | None = None
    title: str | None = None


def row_to_note(row: sqlite3.Row) -> Note:
    return Note(
        id=row["id"],
        uri=row["uri"],
        actor_id=row["actor_id"],
        local=bool(row["local"]),
        url=row["url"],
        content=row["content"],
        source=row["source"],
        summary=row["summary"],
        sensitive=bool(row["sensitive"]),
        language=row["language"],
        visibility=row["visibility"],
        in_reply_to_uri=row["in_reply_to_uri"],
        context_uri=row["context_uri"],
        to=tuple(json.loads(row["to_json"])),
        cc=tuple(json.loads(row["cc_json"])),
        tags=tuple(json.loads(row["tags_json"])),
        ai_generated=bool(row["ai_generated"]),
        published=row["published"],
        published_text=row["published_text"],
        updated=row["updated"],
        updated_text=row["updated_text"],
        title=row["title"],
    )


def insert(conn: sqlite3.Connection, n: NoteRow, *, now: float) -> int | None:
    """Insert a note; None when a note with this id already exists (idempotent Create)."""
    cur = conn.execute(
        "INSERT INTO notes (uri, actor_id, local, url, content, source, summary, sensitive,"
        " language, visibility, in_reply_to_uri, context_uri, to_json, cc_json, tags_json,"
        " ai_generated, published, published_text, updated, updated_text, raw_json, created_at,"
        " title) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT(uri) DO NOTHING",
        (
            n.uri,
            n.actor_id,
            int(n.local),
            n.url,
            n.content,
            n.source,
            n.summary,
            int(n.sensitive),
            n.language,
            n.visibility,
            n.in_reply_to_uri,
            n.context_uri,
            json.dumps(list(n.to)),
            json.dumps(list(n.cc)),
            json.dumps(list(n.tags)),
            int(n.ai_generated),
            n.published,
            n.published_text,
            n.updated,
            n.updated_text,
            n.raw_json,
            now,
            n.title,
        ),
    )
    if cur.rowcount == 0:
        return None
    note_id = int(cur.lastrowid or 0)
    _replace_links(conn, note_id, n)
    return note_id


def replace_content(conn: sqlite3.Connection, note_id: int, n: NoteRow) -> None:
    """An edit: new content and tags, same id, author and publication time; the version it
    replaces is kept (``revisions``)."""
    revisions.record_in(conn, note_id, replaced_at=n.updated or 0.0)
    conn.execute(
        "UPDATE notes SET content = ?, source = ?, summary = ?, sensitive = ?, language = ?,"
        " tags_json = ?, updated = ?, updated_text = ?, raw_json = ?, title = ? WHERE id = ?",
        (
            n.content,
            n.source,
            n.summary,
            int(n.sensitive),
            n.language,
            json.dumps(list(n.tags)),
            n.updated,
            n.updated_text,
            n.raw_json,
            n.title,
            note_id,
        ),
    )
    conn.execute("DELETE FROM note_hashtags WHERE note_id = ?", (note_id,))
    conn.execute("DELETE FROM note_mentions WHERE note_id = ?", (note_id,))
    _replace_links(conn, note_id, n)


def _replace_links(conn: sqlite3.Connection, note_id: int, n: NoteRow) -> None:
    conn.executemany(
        "INSERT OR IGNORE INTO note_mentions (note_id, actor_uri) VALUES (?, ?)",
        [(note_id, m) for m in n.mentions],
    )
    conn.executemany(
        "INSERT OR IGNORE INTO note_hashtags (note_id, name) VALUES (?, ?)",
        [(note_id, h.lower()) for h in n.hashtags],
    )


async def by_uri(db: Database, uri: str) -> Note | None:
    row = await db.fetchone(f"SELECT {_COLUMNS} FROM notes WHERE uri = ?", (uri,))
    return row_to_note(row) if row else None


async def by_id(db: Database, note_id: int) -> Note | None:
    row = await db.fetchone(f"SELECT {_COLUMNS} FROM notes WHERE id = ?", (note_id,))
    return row_to_note(row) if row else None


async def by_url(db: Database, url: str) -> Note | None:
    """The note whose page is ``url`` (a local note's HTML address, as a browser shows it)."""
    row = await db.fetchone(f"SELECT {_COLUMNS} FROM notes WHERE url = ? LIMIT 1", (url,))
    return row_to_note(row) if row else None


async def mentions_of(db: Database, note_id: int) -> list[str]:
    rows = await db.fetchall("SELECT actor_uri FROM note_mentions WHERE note_id = ?", (note_id,))
    return [r[0] for r in rows]


async def is_tombstoned(db: Database, uri: str) -> bool:
    return await db.fetchval("SELECT 1 FROM tombstones WHERE uri = ?", (uri,)) is not None


async def tombstone(db: Database, uri: str, *, actor_uri: str, now: float) -> bool:
    """Delete the note (if present) and remember its id; True when a note was removed."""
    async with db.write() as conn:
        await conn.execute(
            "INSERT OR IGNORE INTO tombstones (uri, actor_uri, deleted_at) VALUES (?, ?, ?)",
            (uri, actor_uri, now),
        )
        cur = await conn.execute("DELETE FROM notes WHERE uri = ?", (uri,))
        return cur.rowcount > 0


async def by_actor(
    db: Database, actor_id: int, *, visibilities: Sequence[str], before: float | None, limit: int
) -> list[Note]:
    marks = ",".join("?" * len(visibilities))
    rows = await db.fetchall(
        f"SELECT {_COLUMNS} FROM notes WHERE actor_id = ? AND visibility IN ({marks})"
        " AND published < ? ORDER BY published DESC LIMIT ?",
        (actor_id, *visibilities, before if before is not None else 1e18, limit),
    )
    return [row_to_note(r) for r in rows]


async def count_by_actor(db: Database, actor_id: int, *, visibilities: Sequence[str]) -> int:
    marks = ",".join("?" * len(visibilities))
    return int(
        await db.fetchval(
            f"SELECT COUNT(*) FROM notes WHERE actor_id = ? AND visibility IN ({marks})",
            (actor_id, *visibilities),
        )
        or 0
    )


async def replies_to(db: Database, uri: str, *, public_only: bool, limit: int = 200) -> list[Note]:
    vis = "AND visibility IN ('public', 'unlisted')" if public_only else ""
    rows = await db.fetchall(
        f"SELECT {_COLUMNS} FROM notes WHERE in_reply_to_uri = ? {vis} ORDER BY published LIMIT ?",
        (uri, limit),
    )
    return [row_to_note(r) for r in rows]


async def count_local(db: Database) -> int:
    return int(await db.fetchval("SELECT COUNT(*) FROM notes WHERE local = 1") or 0)


async def local_timeline(db: Database, *, before: float | None, limit: int) -> list[Note]:
    rows = await db.fetchall(
        f"SELECT {_COLUMNS} FROM notes WHERE local = 1 AND visibility = 'public'"
        " AND published < ? ORDER BY published DESC LIMIT ?",
        (before if before is not None else 1e18, limit),
    )
    return [row_to_note(r) for r in rows]
