"""The remote media cache's rows: one per remote URL, with the file we keep for it."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from . import jobs
from .db import Database

CACHE_JOB = "cache_media"
_COLUMNS = "url, kind, state, file_name, thumb_name, media_type, width, height, size, fetched_at"


@dataclass(frozen=True)
class RemoteFile:
    url: str
    kind: str
    state: str
    file_name: str | None
    thumb_name: str | None
    media_type: str | None
    width: int | None
    height: int | None
    size: int | None
    fetched_at: float | None


def _row(row: sqlite3.Row) -> RemoteFile:
    return RemoteFile(*(row[i] for i in range(10)))


def want_in(conn: sqlite3.Connection, wanted: Iterable[tuple[str, str]], *, now: float) -> int:
    """Ask for ``(url, kind)`` to be cached, inside the caller's transaction; returns how many
    fetches were queued (a URL already known is not fetched again)."""
    queued = 0
    for url, kind in wanted:
        cur = conn.execute(
            "INSERT INTO remote_files (url, kind, created_at) VALUES (?, ?, ?)"
            " ON CONFLICT(url) DO NOTHING",
            (url, kind, now),
        )
        if cur.rowcount and jobs.enqueue_in(
            conn, CACHE_JOB, {"url": url}, now=now, dedupe_key=f"cache:{url}"
        ):
            queued += 1
    return queued


def refresh_emoji_in(
    conn: sqlite3.Connection, changed: Iterable[tuple[str, float]], *, now: float
) -> int:
    """Fetch again the emoji whose senders say they changed (``updated``, not in the future)
    after we fetched them; the copy we have is shown until the new one replaces it."""
    queued = 0
    for url, updated in changed:
        if updated > now:
            continue
        newer = conn.execute(
            "SELECT 1 FROM remote_files WHERE url = ? AND kind = 'emoji' AND state = 'done'"
            " AND fetched_at < ?",
            (url, updated),
        ).fetchone()
        if newer and jobs.enqueue_in(
            conn,
            CACHE_JOB,
            {"url": url, "refresh": True},
            now=now,
            dedupe_key=f"cache:{url}:{updated:.0f}",
        ):
            queued += 1
    return queued


async def refresh_emoji(db: Database, changed: Sequence[tuple[str, float]], *, now: float) -> int:
    if not changed:
        return 0
    return await db.transaction(lambda conn: refresh_emoji_in(conn, changed, now=now))


async def want(db: Database, wanted: Sequence[tuple[str, str]], *, now: float) -> int:
    if not wanted:
        return 0
    return await db.transaction(lambda conn: want_in(conn, wanted, now=now))


async def get(db: Database, url: str) -> RemoteFile | None:
    row = await db.fetchone(f"SELECT {_COLUMNS} FROM remote_files WHERE url = ?", (url,))
    return _row(row) if row else None


async def by_file_name(db: Database, name: str) -> RemoteFile | None:
    row = await db.fetchone(
        f"SELECT {_COLUMNS} FROM remote_files WHERE state = 'done'"
        " AND (file_name = ? OR thumb_name = ?)",
        (name, name),
    )
    return _row(row) if row else None


async def cached(db: Database, urls: Iterable[str]) -> dict[str, RemoteFile]:
    """The cached files among ``urls``, in one query (pages look up a screenful at once)."""
    wanted = list(dict.fromkeys(u for u in urls if u))
    if not wanted:
        return {}
    marks = ", ".join("?" for _ in wanted)
    rows = await db.fetchall(
        f"SELECT {_COLUMNS} FROM remote_files WHERE state = 'done' AND url IN ({marks})", wanted
    )
    return {r["url"]: _row(r) for r in rows}


async def mark_done(
    db: Database,
    url: str,
    *,
    file_name: str,
    thumb_name: str | None,
    media_type: str,
    width: int | None,
    height: int | None,
    size: int,
    now: float,
) -> None:
    await db.execute(
        "UPDATE remote_files SET state = 'done', file_name = ?, thumb_name = ?, media_type = ?,"
        " width = ?, height = ?, size = ?, error = NULL, fetched_at = ? WHERE url = ?",
        (file_name, thumb_name, media_type, width, height, size, now, url),
    )


async def mark_failed(db: Database, url: str, *, error: str, now: float) -> None:
    await db.execute(
        "UPDATE remote_files SET state = 'failed', error = ?, fetched_at = ? WHERE url = ?",
        (error[:500], now, url),
    )


async def older_than(db: Database, cutoff: float, *, limit: int = 500) -> list[RemoteFile]:
    """Files fetched (or given up on) before ``cutoff``: what a prune removes. A cached emoji
    stays (as Mastodon keeps them): a few KB each, and only a new post would fetch it again,
    so old posts and profiles would lose theirs for good."""
    rows = await db.fetchall(
        f"SELECT {_COLUMNS} FROM remote_files WHERE state IN ('done', 'failed')"
        " AND NOT (kind = 'emoji' AND state = 'done')"
        " AND fetched_at < ? ORDER BY fetched_at LIMIT ?",
        (cutoff, limit),
    )
    return [_row(r) for r in rows]


async def forget(db: Database, urls: Sequence[str]) -> None:
    await db.executemany("DELETE FROM remote_files WHERE url = ?", [(u,) for u in urls])
