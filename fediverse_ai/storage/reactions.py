"""Likes, emoji reactions, announces (boosts), blocks and reports."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass

from . import mod_assist
from .db import Database


async def add_reaction(
    db: Database,
    *,
    uri: str | None,
    kind: str,
    emoji: str,
    actor_id: int,
    note_id: int,
    now: float,
    emoji_url: str | None = None,
) -> bool:
    """``emoji_url``: the picture of a custom emoji reaction (cached as an emoji)."""
    async with db.write() as conn:
        cur = await conn.execute(
            "INSERT INTO reactions (uri, kind, emoji, actor_id, note_id, created_at, emoji_url)"
            " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (uri, kind, emoji, actor_id, note_id, now, emoji_url),
        )
        return cur.rowcount > 0


async def remove_reaction(
    db: Database, *, uri: str | None, actor_id: int, note_id: int | None
) -> bool:
    """Undo by the reaction's activity id, else (for Likes) by actor and note."""
    async with db.write() as conn:
        if uri:
            cur = await conn.execute(
                "DELETE FROM reactions WHERE uri = ? AND actor_id = ?", (uri, actor_id)
            )
            if cur.rowcount:
                return True
        if note_id is None:
            return False
        cur = await conn.execute(
            "DELETE FROM reactions WHERE actor_id = ? AND note_id = ? AND kind = 'like'",
            (actor_id, note_id),
        )
        return cur.rowcount > 0


async def count_likes(db: Database, note_id: int) -> int:
    return int(
        await db.fetchval(
            "SELECT COUNT(*) FROM reactions WHERE note_id = ? AND kind = 'like'", (note_id,)
        )
        or 0
    )


async def reaction_uri(db: Database, *, actor_id: int, note_id: int) -> str | None:
    value = await db.fetchval(
        "SELECT uri FROM reactions WHERE actor_id = ? AND note_id = ? AND kind = 'like'",
        (actor_id, note_id),
    )
    return str(value) if value else None


async def add_announce(
    db: Database, *, uri: str | None, actor_id: int, note_id: int, now: float
) -> bool:
    async with db.write() as conn:
        cur = await conn.execute(
            "INSERT INTO announces (uri, actor_id, note_id, published) VALUES (?, ?, ?, ?)"
            " ON CONFLICT DO NOTHING",
            (uri, actor_id, note_id, now),
        )
        return cur.rowcount > 0


async def remove_announce(
    db: Database, *, uri: str | None, actor_id: int, note_id: int | None
) -> bool:
    async with db.write() as conn:
        if uri:
            cur = await conn.execute(
                "DELETE FROM announces WHERE uri = ? AND actor_id = ?", (uri, actor_id)
            )
            if cur.rowcount:
                return True
        if note_id is None:
            return False
        cur = await conn.execute(
            "DELETE FROM announces WHERE actor_id = ? AND note_id = ?", (actor_id, note_id)
        )
        return cur.rowcount > 0


async def announce_uri(db: Database, *, actor_id: int, note_id: int) -> str | None:
    value = await db.fetchval(
        "SELECT uri FROM announces WHERE actor_id = ? AND note_id = ?", (actor_id, note_id)
    )
    return str(value) if value else None


async def booster_ids(db: Database, note_id: int) -> list[int]:
    """Who boosted the note (an edit notifies them)."""
    rows = await db.fetchall("SELECT actor_id FROM announces WHERE note_id = ?", (note_id,))
    return [int(r[0]) for r in rows]


async def count_announces(db: Database, note_id: int) -> int:
    return int(
        await db.fetchval("SELECT COUNT(*) FROM announces WHERE note_id = ?", (note_id,)) or 0
    )


async def add_block(
    db: Database, *, uri: str | None, actor_id: int, target_id: int, now: float
) -> None:
    await db.execute(
        "INSERT INTO blocks (uri, actor_id, target_id, created_at) VALUES (?, ?, ?, ?)"
        " ON CONFLICT DO NOTHING",
        (uri, actor_id, target_id, now),
    )


async def remove_block(db: Database, *, actor_id: int, target_id: int) -> None:
    await db.execute(
        "DELETE FROM blocks WHERE actor_id = ? AND target_id = ?", (actor_id, target_id)
    )


async def is_blocked_by(db: Database, *, actor_id: int, target_id: int) -> bool:
    """Whether ``actor_id`` blocked ``target_id``."""
    found = await db.fetchval(
        "SELECT 1 FROM blocks WHERE actor_id = ? AND target_id = ?", (actor_id, target_id)
    )
    return found is not None


async def add_report(
    db: Database,
    *,
    uri: str,
    reporter_uri: str,
    object_uris: Sequence[str],
    content: str,
    now: float,
    summarise: bool = False,
) -> None:
    """Another server's report (a ``Flag``), once per id; ``summarise`` queues its moderation
    assist summary in the same transaction."""

    def work(conn: sqlite3.Connection) -> None:
        cur = conn.execute(
            "INSERT INTO reports (uri, reporter_uri, object_uris_json, content, created_at)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT(uri) DO NOTHING",
            (uri, reporter_uri, json.dumps(list(object_uris)), content[:5000], now),
        )
        if summarise and cur.rowcount and cur.lastrowid:
            mod_assist.queue_report_in(conn, cur.lastrowid, now=now)

    await db.transaction(work)


async def count_reports(db: Database) -> int:
    return int(await db.fetchval("SELECT COUNT(*) FROM reports") or 0)


@dataclass(frozen=True)
class Report:
    id: int
    uri: str | None
    reporter_uri: str
    object_uris: tuple[str, ...]
    content: str
    created_at: float
    resolved_at: float | None
    reporter_id: int | None = None  # set for a local user's report (migration 0016)
    target_uri: str | None = None  # the account reported, when the reporter named one
    forwarded: bool = False  # a Flag went to the reported account's server

    @property
    def local(self) -> bool:
        return self.reporter_id is not None


_REPORT_COLUMNS = (
    "id, uri, reporter_uri, object_uris_json, content, created_at, resolved_at, reporter_id,"
    " target_uri, forwarded"
)


def _report(r: sqlite3.Row) -> Report:
    objects = tuple(json.loads(r[3] or "[]"))
    return Report(r[0], r[1], r[2], objects, r[4], r[5], r[6], r[7], r[8], bool(r[9]))


async def list_reports(db: Database, *, include_resolved: bool, limit: int = 100) -> list[Report]:
    where = "" if include_resolved else "WHERE resolved_at IS NULL"
    rows = await db.fetchall(
        f"SELECT {_REPORT_COLUMNS} FROM reports {where} ORDER BY created_at DESC, id DESC LIMIT ?",
        (limit,),
    )
    return [_report(r) for r in rows]


async def report_by_id(db: Database, report_id: int) -> Report | None:
    row = await db.fetchone(f"SELECT {_REPORT_COLUMNS} FROM reports WHERE id = ?", (report_id,))
    return _report(row) if row else None


async def add_local_report(
    db: Database,
    *,
    uri: str,
    reporter_id: int,
    reporter_uri: str,
    target_uri: str,
    object_uris: Sequence[str],
    content: str,
    forwarded: bool,
    now: float,
    summarise: bool = False,
) -> int:
    """A local user's report; ``uri`` is the id its Flag has (or would have) when forwarded.
    ``summarise`` queues its moderation assist summary in the same transaction."""

    def work(conn: sqlite3.Connection) -> int:
        cur = conn.execute(
            "INSERT INTO reports (uri, reporter_uri, object_uris_json, content, created_at,"
            " reporter_id, target_uri, forwarded) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                uri,
                reporter_uri,
                json.dumps(list(object_uris)),
                content[:5000],
                now,
                reporter_id,
                target_uri,
                int(forwarded),
            ),
        )
        report_id = int(cur.lastrowid or 0)
        if summarise:
            mod_assist.queue_report_in(conn, report_id, now=now)
        return report_id

    return await db.transaction(work)


async def resolve_report(db: Database, report_id: int, *, now: float) -> bool:
    async with db.write() as conn:
        cur = await conn.execute(
            "UPDATE reports SET resolved_at = ? WHERE id = ? AND resolved_at IS NULL",
            (now, report_id),
        )
        return cur.rowcount > 0
