"""The activity log: every activity received or sent, unique by id."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from . import jobs
from .db import Database


async def record(
    db: Database,
    *,
    uri: str,
    type: str,
    actor_uri: str,
    object_uri: str | None,
    local: bool,
    raw: dict[str, Any],
    now: float,
) -> bool:
    """Store the activity; False when this id was seen before (a redelivery)."""
    async with db.write() as conn:
        cur = await conn.execute(
            "INSERT INTO activities (uri, type, actor_uri, object_uri, local, raw_json,"
            " received_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(uri) DO NOTHING",
            (uri, type, actor_uri, object_uri, int(local), json.dumps(raw), now),
        )
        return cur.rowcount > 0


async def record_and_enqueue(
    db: Database,
    *,
    uri: str,
    type: str,
    actor_uri: str,
    object_uri: str | None,
    raw: dict[str, Any],
    now: float,
    job_kind: str,
    job_payload: dict[str, Any],
    dedupe_key: str,
) -> bool:
    """Store a received activity and queue the job that processes it, in one transaction.

    False when this id was seen before. One transaction instead of two halves the inbox
    route's writes (they are serialised), and a crash between the two can no longer
    leave an activity stored without its job, which a redelivery would then not queue.
    """
    raw_json = json.dumps(raw)

    def work(conn: sqlite3.Connection) -> bool:
        cur = conn.execute(
            "INSERT INTO activities (uri, type, actor_uri, object_uri, local, raw_json,"
            " received_at) VALUES (?, ?, ?, ?, 0, ?, ?) ON CONFLICT(uri) DO NOTHING",
            (uri, type, actor_uri, object_uri, raw_json, now),
        )
        if cur.rowcount == 0:
            return False
        return jobs.enqueue_in(conn, job_kind, job_payload, now=now, dedupe_key=dedupe_key)

    return await db.transaction(work)


async def get_raw(db: Database, uri: str) -> dict[str, Any] | None:
    raw = await db.fetchval("SELECT raw_json FROM activities WHERE uri = ?", (uri,))
    return json.loads(raw) if raw else None


async def mark_processed(db: Database, uri: str, *, now: float, error: str | None = None) -> None:
    await db.execute(
        "UPDATE activities SET processed_at = ?, error = ? WHERE uri = ?", (now, error, uri)
    )
