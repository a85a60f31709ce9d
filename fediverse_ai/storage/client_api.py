"""Read queries of the client API that the web pages do not need: id-paged lists (Mastodon
pages by ``max_id``/``since_id``/``min_id``), bulk look-ups for building entities, and the
API's own small state (the app behind a status, Idempotency-Key, dismissed notifications)."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..models import Actor, Note
from .actors import _COLUMNS as ACTOR_COLUMNS
from .actors import row_to_actor
from .db import Database
from .moderation import UNLISTED_IDS
from .notes import _COLUMNS as NOTE_COLUMNS
from .notes import row_to_note

_A_COLS = ", ".join("a." + c.strip() for c in ACTOR_COLUMNS.split(","))
_N_COLS = ", ".join("n." + c.strip() for c in NOTE_COLUMNS.split(","))
#: Reblogs are statuses of their own in Mastodon's API; ours are rows of ``announces``, so
#: their status ids are offset past any note id.
REBLOG_ID_BASE = 10**15


@dataclass(frozen=True)
class IdWindow:
    """An id range and order: older than ``max_id``, newer than ``newer_than``."""

    max_id: int | None
    newer_than: int | None
    oldest_first: bool
    limit: int


def _window(column: str, w: IdWindow) -> tuple[str, list[Any], str]:
    """SQL conditions, their parameters, and the ORDER BY for ``w`` over ``column``."""
    sql = ""
    values: list[Any] = []
    if w.max_id is not None:
        sql += f" AND {column} < ?"
        values.append(w.max_id)
    if w.newer_than is not None:
        sql += f" AND {column} > ?"
        values.append(w.newer_than)
    order = f" ORDER BY {column} {'ASC' if w.oldest_first else 'DESC'} LIMIT ?"
    return sql, values, order


def _newest_first(items: list[Any], w: IdWindow) -> list[Any]:
    return list(reversed(items)) if w.oldest_first else items


async def actors_by_uris(db: Database, uris: Sequence[str]) -> dict[str, Actor]:
    wanted = list(dict.fromkeys(uris))
    if not wanted:
        return {}
    marks = ",".join("?" * len(wanted))
    rows = await db.fetchall(f"SELECT {ACTOR_COLUMNS} FROM actors WHERE uri IN ({marks})", wanted)
    return {r["uri"]: row_to_actor(r) for r in rows}


async def notes_by_ids(db: Database, note_ids: Sequence[int]) -> dict[int, Note]:
    wanted = list(dict.fromkeys(note_ids))
    if not wanted:
        return {}
    marks = ",".join("?" * len(wanted))
    rows = await db.fetchall(f"SELECT {NOTE_COLUMNS} FROM notes WHERE id IN ({marks})", wanted)
    return {r["id"]: row_to_note(r) for r in rows}


async def parents_of(db: Database, uris: Sequence[str]) -> dict[str, tuple[int, int]]:
    """``(note id, actor id)`` of the notes with these URIs (``in_reply_to_id``)."""
    wanted = list(dict.fromkeys(u for u in uris if u))
    if not wanted:
        return {}
    marks = ",".join("?" * len(wanted))
    rows = await db.fetchall(f"SELECT uri, id, actor_id FROM notes WHERE uri IN ({marks})", wanted)
    return {r[0]: (r[1], r[2]) for r in rows}


async def mentions_for(db: Database, note_ids: Sequence[int]) -> dict[int, list[str]]:
    if not note_ids:
        return {}
    marks = ",".join("?" * len(note_ids))
    rows = await db.fetchall(
        f"SELECT note_id, actor_uri FROM note_mentions WHERE note_id IN ({marks}) ORDER BY rowid",
        list(note_ids),
    )
    out: dict[int, list[str]] = {}
    for r in rows:
        out.setdefault(r[0], []).append(r[1])
    return out


async def status_apps(db: Database, note_ids: Sequence[int]) -> dict[int, int]:
    if not note_ids:
        return {}
    marks = ",".join("?" * len(note_ids))
    rows = await db.fetchall(
        f"SELECT note_id, app_id FROM api_status_apps WHERE note_id IN ({marks})", list(note_ids)
    )
    return {r[0]: r[1] for r in rows}


async def set_status_app(db: Database, note_id: int, app_id: int) -> None:
    await db.execute(
        "INSERT INTO api_status_apps (note_id, app_id) VALUES (?, ?) ON CONFLICT DO NOTHING",
        (note_id, app_id),
    )


async def idempotent_status_id(
    db: Database, actor_id: int, key: str, candidate: str, *, now: float
) -> str:
    """The status id kept for this Idempotency-Key, ``candidate`` when the key is new."""
    await db.execute(
        "INSERT INTO api_idempotency (actor_id, key, status_id, created_at) VALUES (?, ?, ?, ?)"
        " ON CONFLICT DO NOTHING",
        (actor_id, key, candidate, now),
    )
    found = await db.fetchval(
        "SELECT status_id FROM api_idempotency WHERE actor_id = ? AND key = ?", (actor_id, key)
    )
    return str(found)


async def account_statuses(
    db: Database,
    actor_id: int,
    w: IdWindow,
    *,
    visibilities: Sequence[str],
    exclude_replies: bool,
    only_media: bool,
) -> list[Note]:
    cond, values, order = _window("id", w)
    marks = ",".join("?" * len(visibilities))
    if exclude_replies:
        cond += " AND in_reply_to_uri IS NULL"
    if only_media:
        cond += " AND EXISTS (SELECT 1 FROM media m WHERE m.note_id = notes.id)"
    rows = await db.fetchall(
        f"SELECT {NOTE_COLUMNS} FROM notes WHERE actor_id = ? AND visibility IN ({marks})"
        f"{cond}{order}",
        (actor_id, *visibilities, *values, w.limit),
    )
    return _newest_first([row_to_note(r) for r in rows], w)


async def public_notes(
    db: Database, w: IdWindow, *, local: bool | None, only_media: bool
) -> list[Note]:
    """Public notes, local, remote or both (the federated timeline holds what reached us)."""
    cond, values, order = _window("id", w)
    if local is not None:
        cond += f" AND local = {int(local)}"
    if only_media:
        cond += " AND EXISTS (SELECT 1 FROM media m WHERE m.note_id = notes.id)"
    rows = await db.fetchall(
        f"SELECT {NOTE_COLUMNS} FROM notes WHERE visibility = 'public'"
        f" AND actor_id NOT IN ({UNLISTED_IDS}){cond}{order}",
        (*values, w.limit),
    )
    return _newest_first([row_to_note(r) for r in rows], w)


async def favourited_by(db: Database, note_id: int, w: IdWindow) -> list[tuple[int, Actor]]:
    cond, values, order = _window("r.id", w)
    rows = await db.fetchall(
        f"SELECT r.id AS rid, {_A_COLS} FROM reactions r JOIN actors a ON a.id = r.actor_id"
        f" WHERE r.note_id = ? AND r.kind = 'like'{cond}{order}",
        (note_id, *values, w.limit),
    )
    return _newest_first([(r["rid"], row_to_actor(r)) for r in rows], w)


async def reblogged_by(db: Database, note_id: int, w: IdWindow) -> list[tuple[int, Actor]]:
    cond, values, order = _window("b.id", w)
    rows = await db.fetchall(
        f"SELECT b.id AS rid, {_A_COLS} FROM announces b JOIN actors a ON a.id = b.actor_id"
        f" WHERE b.note_id = ?{cond}{order}",
        (note_id, *values, w.limit),
    )
    return _newest_first([(r["rid"], row_to_actor(r)) for r in rows], w)


async def follow_list(
    db: Database, actor_id: int, w: IdWindow, *, followers: bool, state: str = "accepted"
) -> list[tuple[int, Actor]]:
    """Followers of (or accounts followed by) ``actor_id`` whose follow is in ``state``
    (accepted, or pending: follow requests), paged by follow id."""
    cond, values, order = _window("f.id", w)
    mine, theirs = ("followee_id", "follower_id") if followers else ("follower_id", "followee_id")
    rows = await db.fetchall(
        f"SELECT f.id AS rid, {_A_COLS} FROM follows f JOIN actors a ON a.id = f.{theirs}"
        f" WHERE f.{mine} = ? AND f.state = ?{cond}{order}",
        (actor_id, state, *values, w.limit),
    )
    return _newest_first([(r["rid"], row_to_actor(r)) for r in rows], w)


@dataclass(frozen=True)
class Announce:
    id: int
    actor_id: int
    note_id: int
    published: float

    @property
    def status_id(self) -> int:
        return REBLOG_ID_BASE + self.id


async def announce_by_id(db: Database, announce_id: int) -> Announce | None:
    row = await db.fetchone(
        "SELECT id, actor_id, note_id, published FROM announces WHERE id = ?", (announce_id,)
    )
    return Announce(*row) if row else None


async def announce_of(db: Database, actor_id: int, note_id: int) -> Announce | None:
    row = await db.fetchone(
        "SELECT id, actor_id, note_id, published FROM announces WHERE actor_id = ? AND note_id = ?",
        (actor_id, note_id),
    )
    return Announce(*row) if row else None


async def blocks_between(db: Database, me: int, others: Sequence[int]) -> tuple[set[int], set[int]]:
    """(whom ``me`` blocks, who blocks ``me``) among ``others``."""
    if not others:
        return set(), set()
    marks = ",".join("?" * len(others))
    mine = await db.fetchall(
        f"SELECT target_id FROM blocks WHERE actor_id = ? AND target_id IN ({marks})",
        (me, *others),
    )
    theirs = await db.fetchall(
        f"SELECT actor_id FROM blocks WHERE target_id = ? AND actor_id IN ({marks})",
        (me, *others),
    )
    return {r[0] for r in mine}, {r[0] for r in theirs}


async def follow_states(
    db: Database, me: int, others: Sequence[int]
) -> tuple[dict[int, str], dict[int, str]]:
    """(state of my follow of each, state of each one's follow of me)."""
    if not others:
        return {}, {}
    marks = ",".join("?" * len(others))
    out_rows = await db.fetchall(
        "SELECT followee_id, state FROM follows"
        f" WHERE follower_id = ? AND followee_id IN ({marks})",
        (me, *others),
    )
    in_rows = await db.fetchall(
        "SELECT follower_id, state FROM follows"
        f" WHERE followee_id = ? AND follower_id IN ({marks})",
        (me, *others),
    )
    return {r[0]: r[1] for r in out_rows}, {r[0]: r[1] for r in in_rows}


async def peers(db: Database, *, limit: int = 10_000) -> list[str]:
    rows = await db.fetchall(
        "SELECT DISTINCT domain FROM actors WHERE local = 0 ORDER BY domain LIMIT ?", (limit,)
    )
    return [r[0] for r in rows]


async def count_peers(db: Database) -> int:
    return int(await db.fetchval("SELECT COUNT(DISTINCT domain) FROM actors WHERE local = 0") or 0)


async def last_status_at(db: Database, actor_id: int) -> float | None:
    found = await db.fetchval("SELECT MAX(published) FROM notes WHERE actor_id = ?", (actor_id,))
    return float(found) if found is not None else None


async def dismissed(db: Database, actor_id: int) -> tuple[set[int], float | None]:
    """Dismissed notification ids, and when the notifications were last cleared."""
    rows = await db.fetchall(
        "SELECT notification_id FROM api_notification_dismissals WHERE actor_id = ?", (actor_id,)
    )
    cleared = await db.fetchval(
        "SELECT cleared_before FROM api_notification_clears WHERE actor_id = ?", (actor_id,)
    )
    return {r[0] for r in rows}, (float(cleared) if cleared is not None else None)


async def dismiss(db: Database, actor_id: int, notification_id: int) -> None:
    await db.execute(
        "INSERT INTO api_notification_dismissals (actor_id, notification_id) VALUES (?, ?)"
        " ON CONFLICT DO NOTHING",
        (actor_id, notification_id),
    )


async def clear(db: Database, actor_id: int, *, now: float) -> None:
    def work(conn: sqlite3.Connection) -> None:
        conn.execute(
            "INSERT INTO api_notification_clears (actor_id, cleared_before) VALUES (?, ?)"
            " ON CONFLICT(actor_id) DO UPDATE SET cleared_before = excluded.cleared_before",
            (actor_id, now),
        )
        conn.execute("DELETE FROM api_notification_dismissals WHERE actor_id = ?", (actor_id,))

    await db.transaction(work)
