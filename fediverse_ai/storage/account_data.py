"""A local account's own data: deleting it (at once, then purged later) and its archives.

Deletion happens in two steps. :func:`mark_deleted` runs when the owner asks: the account can
no longer sign in (password, browser sessions and client API tokens gone), its posts are
deleted (tombstoned, like a post its author deletes) with its boosts and likes, and
``accounts.deleted_at`` is set, which makes the actor answer 410 Gone. :func:`purge` runs from a
job after the grace period: the actor row goes, and with it, by ``ON DELETE CASCADE``, the
account, its media rows, preferences and archives.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from ..models import Note
from .db import Database
from .notes import _COLUMNS as NOTE_COLUMNS
from .notes import row_to_note

PURGE_JOB = "purge_account"
EXPORT_JOB = "export_account"


async def deleted_at(db: Database, actor_id: int) -> float | None:
    value = await db.fetchval("SELECT deleted_at FROM accounts WHERE actor_id = ?", (actor_id,))
    return float(value) if value is not None else None


async def deleted_username(db: Database, username: str) -> bool:
    """Whether ``username`` is a local account deleted and not yet purged (its actor is 410)."""
    found = await db.fetchval(
        "SELECT 1 FROM accounts acc JOIN actors a ON a.id = acc.actor_id"
        " WHERE a.local = 1 AND a.username = ? AND acc.deleted_at IS NOT NULL",
        (username.lower(),),
    )
    return found is not None


async def local_file_names(db: Database, actor_id: int) -> list[str]:
    """Every file of ours that belongs to the account: attachments, uploads, avatar, header."""
    rows = await db.fetchall(
        "SELECT file_name FROM media WHERE actor_id = ? AND local = 1 AND file_name IS NOT NULL",
        (actor_id,),
    )
    return [str(r[0]) for r in rows]


def mark_deleted(conn: sqlite3.Connection, actor_id: int, actor_uri: str, *, now: float) -> bool:
    """Delete the account (in the caller's transaction); False if it already was."""
    cur = conn.execute(
        "UPDATE accounts SET deleted_at = ?, password_hash = NULL"
        " WHERE actor_id = ? AND role = 'user' AND deleted_at IS NULL",
        (now, actor_id),
    )
    if cur.rowcount == 0:
        return False
    conn.execute("DELETE FROM sessions WHERE actor_id = ?", (actor_id,))
    conn.execute("DELETE FROM oauth_tokens WHERE actor_id = ?", (actor_id,))
    conn.execute("DELETE FROM oauth_codes WHERE actor_id = ?", (actor_id,))
    # A late Create of one of these ids (a peer's retry) must not bring the post back.
    conn.execute(
        "INSERT OR IGNORE INTO tombstones (uri, actor_uri, deleted_at)"
        " SELECT uri, ?, ? FROM notes WHERE actor_id = ?",
        (actor_uri, now, actor_id),
    )
    conn.execute("DELETE FROM notes WHERE actor_id = ?", (actor_id,))
    # Their boosts and likes leave other people's timelines and counts too (as on Mastodon).
    conn.execute("DELETE FROM announces WHERE actor_id = ?", (actor_id,))
    conn.execute("DELETE FROM reactions WHERE actor_id = ?", (actor_id,))
    return True


async def known_inboxes(db: Database, actor_id: int) -> list[str]:
    """Where an actor's Delete goes: every remote server we know, by its shared inbox where it
    has one, else the inboxes of the actor's followers and of those it follows or that follow
    it (as Mastodon does: a server that never saw the actor simply ignores it)."""
    rows = await db.fetchall(
        "SELECT DISTINCT shared_inbox FROM actors WHERE local = 0 AND shared_inbox IS NOT NULL"
        " UNION SELECT a.inbox FROM follows f JOIN actors a"
        "  ON a.id = CASE WHEN f.follower_id = ? THEN f.followee_id ELSE f.follower_id END"
        " WHERE (f.follower_id = ? OR f.followee_id = ?) AND a.local = 0"
        "  AND a.shared_inbox IS NULL AND a.inbox IS NOT NULL",
        (actor_id, actor_id, actor_id),
    )
    return sorted(str(r[0]) for r in rows)


async def drop_follows(db: Database, actor_id: int) -> None:
    await db.execute(
        "DELETE FROM follows WHERE follower_id = ? OR followee_id = ?", (actor_id, actor_id)
    )


async def pending_deliveries(db: Database, actor_id: int) -> int:
    """Deliveries signed by the actor that have not finished: its key must outlive them."""
    value = await db.fetchval(
        "SELECT COUNT(*) FROM jobs WHERE kind = 'deliver' AND state IN ('pending', 'running')"
        " AND CAST(json_extract(payload, '$.actor_id') AS TEXT) = ?",
        (str(actor_id),),
    )
    return int(value or 0)


async def purge(db: Database, actor_id: int) -> bool:
    """Remove a deleted account's actor (and all that cascades from it); False if gone."""
    cur = await db.execute(
        "DELETE FROM actors WHERE id = ? AND local = 1 AND id IN"
        " (SELECT actor_id FROM accounts WHERE deleted_at IS NOT NULL)",
        (actor_id,),
    )
    return cur > 0


# --- archives ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Export:
    token: str
    state: str  # "pending" | "ready" | "failed"
    size: int | None
    created_at: float
    finished_at: float | None


async def add_export(db: Database, actor_id: int, token: str, *, now: float) -> bool:
    """Record an archive to build and queue its job; False when one is already being built."""

    def work(conn: sqlite3.Connection) -> bool:
        busy = conn.execute(
            "SELECT 1 FROM account_exports WHERE actor_id = ? AND state = 'pending'", (actor_id,)
        ).fetchone()
        if busy:
            return False
        conn.execute(
            "INSERT INTO account_exports (actor_id, token, state, created_at)"
            " VALUES (?, ?, 'pending', ?)",
            (actor_id, token, now),
        )
        conn.execute(
            "INSERT INTO jobs (kind, payload, run_after, dedupe_key, created_at, updated_at)"
            " VALUES (?, json_object('token', CAST(? AS TEXT)), ?, ?, ?, ?)",
            (EXPORT_JOB, token, now, f"export:{token}", now, now),
        )
        return True

    return await db.transaction(work)


async def exports(db: Database, actor_id: int) -> list[Export]:
    rows = await db.fetchall(
        "SELECT token, state, size, created_at, finished_at FROM account_exports"
        " WHERE actor_id = ? ORDER BY created_at DESC, id DESC",
        (actor_id,),
    )
    return [Export(str(r[0]), str(r[1]), r[2], float(r[3]), r[4]) for r in rows]


async def export_owner(db: Database, token: str) -> int | None:
    value = await db.fetchval("SELECT actor_id FROM account_exports WHERE token = ?", (token,))
    return int(value) if value is not None else None


async def finish_export(db: Database, token: str, *, size: int | None, now: float) -> None:
    await db.execute(
        "UPDATE account_exports SET state = ?, size = ?, finished_at = ? WHERE token = ?",
        ("ready" if size is not None else "failed", size, now, token),
    )


async def older_exports(db: Database, actor_id: int, token: str) -> list[str]:
    """The account's finished archives other than ``token``: replaced by it."""
    rows = await db.fetchall(
        "SELECT token FROM account_exports"
        " WHERE actor_id = ? AND token != ? AND state != 'pending'",
        (actor_id, token),
    )
    return [str(r[0]) for r in rows]


async def forget_export(db: Database, token: str) -> None:
    await db.execute("DELETE FROM account_exports WHERE token = ?", (token,))


async def export_tokens(db: Database, actor_id: int) -> list[str]:
    rows = await db.fetchall("SELECT token FROM account_exports WHERE actor_id = ?", (actor_id,))
    return [str(r[0]) for r in rows]


# --- what an archive holds ------------------------------------------------------------------


async def own_notes(db: Database, actor_id: int) -> list[Note]:
    """Every post of the account, oldest first (the archive's order)."""
    rows = await db.fetchall(
        f"SELECT {NOTE_COLUMNS} FROM notes WHERE actor_id = ? ORDER BY published, id",
        (actor_id,),
    )
    return [row_to_note(r) for r in rows]


async def liked_uris(db: Database, actor_id: int) -> list[str]:
    rows = await db.fetchall(
        "SELECT n.uri FROM reactions r JOIN notes n ON n.id = r.note_id"
        " WHERE r.actor_id = ? AND r.kind = 'like' ORDER BY r.created_at, r.id",
        (actor_id,),
    )
    return [str(r[0]) for r in rows]


async def bookmarked_uris(db: Database, actor_id: int) -> list[str]:
    """Bookmarks, where this instance keeps them (an empty list until it does)."""
    try:
        rows = await db.fetchall(
            "SELECT n.uri FROM bookmarks b JOIN notes n ON n.id = b.note_id"
            " WHERE b.actor_id = ? ORDER BY b.created_at",
            (actor_id,),
        )
    except sqlite3.OperationalError:  # no bookmarks table in this schema
        return []
    return [str(r[0]) for r in rows]
