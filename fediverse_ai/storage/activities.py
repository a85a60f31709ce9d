"""The activity log: every activity received or sent, unique by id."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from . import jobs
from .db import Database

# What a repeated activity would do again: a row that exists while its effect lasts.
_FOLLOWING = (
    "SELECT 1 FROM follows f JOIN actors a ON a.id = f.follower_id"
    " JOIN actors t ON t.id = f.followee_id WHERE a.uri = ? AND t.uri = ?"
)
_EFFECT_TABLES = {"Like": "reactions", "EmojiReact": "reactions", "Announce": "announces"}
_EFFECT_TABLES |= {"Block": "blocks"}
REPEATABLE = frozenset({"Follow", "Undo", *_EFFECT_TABLES})


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

    False when this id was seen before and is not meant again (see :func:`_reopen`). One
    transaction instead of two halves the inbox route's writes (they are serialised), and a
    crash between the two can no longer leave an activity stored without its job, which a
    redelivery would then not queue; two redeliveries at once reopen a repeated id once.
    """
    raw_json = json.dumps(raw)

    def work(conn: sqlite3.Connection) -> bool:
        cur = conn.execute(
            "INSERT INTO activities (uri, type, actor_uri, object_uri, local, raw_json,"
            " received_at) VALUES (?, ?, ?, ?, 0, ?, ?) ON CONFLICT(uri) DO NOTHING",
            (uri, type, actor_uri, object_uri, raw_json, now),
        )
        if cur.rowcount == 0:
            if type not in REPEATABLE or not _reopen(
                conn,
                uri=uri,
                type=type,
                actor_uri=actor_uri,
                object_uri=object_uri,
                raw_json=raw_json,
                now=now,
            ):
                return False
            # The first job's key is taken: each repetition gets its own.
            return jobs.enqueue_in(
                conn, job_kind, job_payload, now=now, dedupe_key=f"{dedupe_key}@{now!r}"
            )
        return jobs.enqueue_in(conn, job_kind, job_payload, now=now, dedupe_key=dedupe_key)

    return await db.transaction(work)


def _reopen(
    conn: sqlite3.Connection,
    *,
    uri: str,
    type: str,
    actor_uri: str,
    object_uri: str | None,
    raw_json: str,
    now: float,
) -> bool:
    """Whether a seen id is meant again; if so, its row is made new for processing.

    Some servers reuse an id when a person repeats an action after undoing it (Takahē sends
    the same Follow id on every follow, issue 18). A Follow, Like, Announce or Block whose
    effect is gone, or an Undo of an id whose effect is back, is processed again; a
    redelivery (the effect still there, or the first processing not finished) is not.
    """
    row = conn.execute("SELECT processed_at FROM activities WHERE uri = ?", (uri,)).fetchone()
    if row is None or row[0] is None:
        return False
    if type == "Undo":
        again = object_uri is not None and any(
            conn.execute(f"SELECT 1 FROM {table} WHERE uri = ?", (object_uri,)).fetchone()
            for table in ("follows", *sorted(set(_EFFECT_TABLES.values())))
        )
    elif type == "Follow":
        again = not conn.execute(_FOLLOWING, (actor_uri, object_uri)).fetchone()
    else:
        table = _EFFECT_TABLES[type]
        again = not conn.execute(f"SELECT 1 FROM {table} WHERE uri = ?", (uri,)).fetchone()
    if again:
        conn.execute(
            "UPDATE activities SET raw_json = ?, received_at = ?, processed_at = NULL,"
            " error = NULL WHERE uri = ?",
            (raw_json, now, uri),
        )
    return again


async def receipt(db: Database, uri: str) -> str | None:
    """A name for this receipt of the activity: its id and when it was (re)opened, the same
    for every run of its job, new when a repeated id is meant again (:func:`_reopen`)."""
    received = await db.fetchval("SELECT received_at FROM activities WHERE uri = ?", (uri,))
    return f"{uri} {received!r}" if received is not None else None


async def get_raw(db: Database, uri: str) -> dict[str, Any] | None:
    raw = await db.fetchval("SELECT raw_json FROM activities WHERE uri = ?", (uri,))
    return json.loads(raw) if raw else None


async def mark_processed(db: Database, uri: str, *, now: float, error: str | None = None) -> None:
    await db.execute(
        "UPDATE activities SET processed_at = ?, error = ? WHERE uri = ?", (now, error, uri)
    )
