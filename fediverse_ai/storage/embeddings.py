"""Post embeddings for the For-you feed, and the per-account AI preferences that gate them.

Vectors are stored as little-endian float16 (768 bytes for 384 dimensions): half the size of
float32, and the ranking's cosine similarities change in the fourth decimal at most.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from .db import Database

EMBED_JOB = "embed_note"
_DTYPE = np.dtype("<f2")
# An embedding is only worth computing for a note the feed could ever show.
_EMBEDDABLE_VISIBILITY = "public"


@dataclass(frozen=True)
class Preferences:
    """A local account's AI switches (defaults for an account that never changed them)."""

    ai_may_use_posts: bool = True
    foryou: bool = False


def queue_in(
    conn: sqlite3.Connection, note_id: int, visibility: str, *, now: float, version: float | None
) -> None:
    """Queue the embedding of a stored note, in the transaction that stored it.

    The dedupe key carries the edit time, so that an edit queues a fresh job while a
    redelivered Create (or the job run twice) does not. Consent is checked by the job itself.
    """
    if visibility != _EMBEDDABLE_VISIBILITY:
        return
    key = f"embed:{note_id}" if version is None else f"embed:{note_id}:{version!r}"
    conn.execute(
        "INSERT INTO jobs (kind, payload, run_after, dedupe_key, created_at, updated_at)"
        " VALUES (?, json_object('note_id', CAST(? AS INTEGER)), ?, ?, ?, ?)"
        " ON CONFLICT(dedupe_key) DO NOTHING",
        (EMBED_JOB, note_id, now, key, now, now),
    )


def to_blob(vector: npt.NDArray[np.float32]) -> bytes:
    return vector.astype(_DTYPE).tobytes()


def from_blobs(blobs: Sequence[bytes], dim: int) -> npt.NDArray[np.float32]:
    """Stack stored vectors into one (n, dim) float32 matrix."""
    if not blobs:
        return np.zeros((0, dim), dtype=np.float32)
    flat = np.frombuffer(b"".join(blobs), dtype=_DTYPE)
    return flat.reshape(len(blobs), dim).astype(np.float32)


async def put(
    db: Database,
    note_id: int,
    *,
    actor_id: int,
    model: str,
    vector: npt.NDArray[np.float32],
    published: float,
    now: float,
) -> bool:
    """Store (or replace, after an edit) a note's vector; False when the note is gone."""
    async with db.write() as conn:
        cur = await conn.execute(
            "INSERT INTO note_embeddings (note_id, actor_id, model, dim, vector, published,"
            " created_at) SELECT id, ?, ?, ?, ?, ?, ? FROM notes WHERE id = ?"
            " ON CONFLICT(note_id) DO UPDATE SET model = excluded.model, dim = excluded.dim,"
            " vector = excluded.vector, created_at = excluded.created_at",
            (actor_id, model, int(vector.shape[0]), to_blob(vector), published, now, note_id),
        )
        return cur.rowcount > 0


async def delete(db: Database, note_id: int) -> None:
    await db.execute("DELETE FROM note_embeddings WHERE note_id = ?", (note_id,))


async def has(db: Database, note_id: int) -> bool:
    found = await db.fetchval("SELECT 1 FROM note_embeddings WHERE note_id = ?", (note_id,))
    return found is not None


async def count(db: Database) -> int:
    return int(await db.fetchval("SELECT COUNT(*) FROM note_embeddings") or 0)


@dataclass(frozen=True)
class Candidates:
    """Embedded public posts, newest first: parallel arrays, one row per post."""

    note_ids: npt.NDArray[np.int64]
    actor_ids: npt.NDArray[np.int64]
    published: npt.NDArray[np.float64]
    vectors: npt.NDArray[np.float32]


async def version(db: Database, *, model: str) -> tuple[int, float]:
    """Changes whenever a vector is added, replaced (an edit) or deleted: the key of the
    feed's in-memory copy of the matrix."""
    row = await db.fetchone(
        "SELECT COUNT(*), COALESCE(MAX(created_at), 0) FROM note_embeddings WHERE model = ?",
        (model,),
    )
    return (int(row[0]), float(row[1])) if row else (0, 0.0)


async def candidates(db: Database, *, model: str, dim: int, limit: int) -> Candidates:
    """The newest ``limit`` embedded public posts. Whether their authors still consent is
    not decided here but on every page view (:func:`consenting_authors`)."""
    rows = await db.fetchall(
        "SELECT e.note_id, e.actor_id, e.published, e.vector FROM note_embeddings e"
        " JOIN notes n ON n.id = e.note_id AND n.visibility = 'public'"
        " WHERE e.model = ? AND e.dim = ? ORDER BY e.published DESC LIMIT ?",
        (model, dim, limit),
    )
    return Candidates(
        note_ids=np.array([r[0] for r in rows], dtype=np.int64),
        actor_ids=np.array([r[1] for r in rows], dtype=np.int64),
        published=np.array([r[2] for r in rows], dtype=np.float64),
        vectors=from_blobs([r[3] for r in rows], dim),
    )


async def consenting_authors(db: Database, actor_ids: Sequence[int]) -> list[int]:
    """Those of ``actor_ids`` who are ``indexable`` and, when local, left "AI may use my
    posts" on. The hashtag opt-outs live in profile text: the caller checks them."""
    ids = sorted(set(actor_ids))
    if not ids:
        return []
    marks = ",".join("?" * len(ids))
    rows = await db.fetchall(
        f"SELECT a.id FROM actors a LEFT JOIN ai_preferences p ON p.actor_id = a.id"
        f" WHERE a.id IN ({marks}) AND a.indexable = 1 AND COALESCE(p.ai_may_use_posts, 1) = 1"
        # Suspended and silenced accounts are kept out of For-you as out of public timelines.
        " AND a.suspended_at IS NULL AND a.silenced_at IS NULL",
        ids,
    )
    return [int(r[0]) for r in rows]


@dataclass(frozen=True)
class Signal:
    """A post the viewer liked, boosted or wrote, and when: the profile is built from these."""

    note_id: int
    kind: str  # "liked" | "boosted" | "wrote"
    at: float


async def signals(db: Database, actor_id: int, *, since: float, limit: int) -> list[Signal]:
    """The viewer's recent likes, boosts and posts, newest first, ``limit`` of each."""
    rows = await db.fetchall(
        "SELECT * FROM ("
        "  SELECT note_id, 'liked' AS kind, created_at AS at FROM reactions"
        "  WHERE actor_id = ? AND kind = 'like' AND created_at >= ?"
        "  ORDER BY created_at DESC LIMIT ?)"
        " UNION ALL SELECT * FROM ("
        "  SELECT note_id, 'boosted', published FROM announces"
        "  WHERE actor_id = ? AND published >= ? ORDER BY published DESC LIMIT ?)"
        " UNION ALL SELECT * FROM ("
        "  SELECT id, 'wrote', published FROM notes"
        "  WHERE actor_id = ? AND published >= ? ORDER BY published DESC LIMIT ?)",
        (actor_id, since, limit, actor_id, since, limit, actor_id, since, limit),
    )
    return [Signal(int(r[0]), str(r[1]), float(r[2])) for r in rows]


async def vectors_of(
    db: Database, note_ids: Sequence[int], *, model: str, dim: int
) -> dict[int, npt.NDArray[np.float32]]:
    """Stored vectors of these notes (the viewer's own signals: consent is not re-checked,
    since a post someone liked tells about them, and nothing of it is shown)."""
    if not note_ids:
        return {}
    marks = ",".join("?" * len(note_ids))
    rows = await db.fetchall(
        f"SELECT note_id, vector FROM note_embeddings WHERE model = ? AND dim = ?"
        f" AND note_id IN ({marks})",
        (model, dim, *note_ids),
    )
    matrix = from_blobs([r[1] for r in rows], dim)
    return {int(r[0]): matrix[i] for i, r in enumerate(rows)}


async def followed(db: Database, actor_id: int) -> set[int]:
    rows = await db.fetchall(
        "SELECT followee_id FROM follows WHERE follower_id = ? AND state = 'accepted'", (actor_id,)
    )
    return {int(r[0]) for r in rows}


async def popularity(db: Database, *, since: float) -> dict[int, int]:
    """Likes and boosts per embedded post in the window (everyone's, not only the viewer's)."""
    rows = await db.fetchall(
        "SELECT note_id, COUNT(*) FROM ("
        "  SELECT r.note_id FROM reactions r JOIN note_embeddings e ON e.note_id = r.note_id"
        "  WHERE e.published >= ? AND r.kind = 'like'"
        "  UNION ALL SELECT b.note_id FROM announces b JOIN note_embeddings e"
        "  ON e.note_id = b.note_id WHERE e.published >= ?"
        ") GROUP BY note_id",
        (since, since),
    )
    return {int(r[0]): int(r[1]) for r in rows}


async def preferences(db: Database, actor_id: int) -> Preferences:
    row = await db.fetchone(
        "SELECT ai_may_use_posts, foryou FROM ai_preferences WHERE actor_id = ?", (actor_id,)
    )
    return Preferences(bool(row[0]), bool(row[1])) if row else Preferences()


async def set_preferences(db: Database, actor_id: int, prefs: Preferences, *, now: float) -> None:
    """Save both switches; turning "AI may use my posts" off also drops the stored vectors
    and moderation scores."""
    async with db.write() as conn:
        await conn.execute(
            "INSERT INTO ai_preferences (actor_id, ai_may_use_posts, foryou, updated_at)"
            " VALUES (?, ?, ?, ?) ON CONFLICT(actor_id) DO UPDATE SET"
            " ai_may_use_posts = excluded.ai_may_use_posts, foryou = excluded.foryou,"
            " updated_at = excluded.updated_at",
            (actor_id, int(prefs.ai_may_use_posts), int(prefs.foryou), now),
        )
        if not prefs.ai_may_use_posts:
            await conn.execute("DELETE FROM note_embeddings WHERE actor_id = ?", (actor_id,))
            # The moderation models' scores of their posts too (moderation assist).
            await conn.execute(
                "DELETE FROM moderation_flags WHERE note_id IN"
                " (SELECT id FROM notes WHERE actor_id = ?)",
                (actor_id,),
            )


#: Posts queued again when an author's consent comes back: the newest, as the feed shows.
REQUEUE_LIMIT = 500


async def requeue_author(
    db: Database, actor_id: int, *, since: float, now: float, limit: int = REQUEUE_LIMIT
) -> int:
    """Queue the embedding of an author's newest public posts since ``since`` again (their
    consent came back: the switch, ``indexable``, an opt-out hashtag gone), at most ``limit``;
    keyed by the time, so that a later change queues anew."""
    async with db.write() as conn:
        cur = await conn.execute(
            "INSERT INTO jobs (kind, payload, run_after, dedupe_key, created_at, updated_at)"
            " SELECT ?, json_object('note_id', id), ?, 'embed:' || id || ':on:' || ?, ?, ?"
            " FROM notes n WHERE actor_id = ? AND visibility = 'public' AND published >= ?"
            # A post still embedded from before (an opt-out by hashtag keeps vectors) is done.
            " AND NOT EXISTS (SELECT 1 FROM note_embeddings e WHERE e.note_id = n.id)"
            " ORDER BY published DESC LIMIT ?"
            " ON CONFLICT(dedupe_key) DO NOTHING",
            (EMBED_JOB, now, repr(now), now, now, actor_id, since, limit),
        )
        return cur.rowcount
