"""Moderation assist's rows: the models' scores of posts, and the summaries of reports.

Both are queued as jobs in the transaction that stores the post or the report, so that a
post stored is a post scored even if the process stops right after; the jobs are keyed per
object (and per edit), so a redelivered activity queues nothing new.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass

from . import jobs
from .db import Database

SCORE_JOB = "score_note"
REPORT_JOB = "summarise_report"
# What the admin should see: posts anyone can read. Direct and followers-only posts are
# scored only when a report names them (the reporter showed them to the admin).
SCORED_VISIBILITIES = ("public", "unlisted")
SUGGESTIONS = ("review", "silence", "suspend")
# How much higher a new score must be to bring back a flag the admin dismissed: the same text
# scored again gives the same number, a meaner edit a clearly higher one.
ROSE_BY = 0.01


@dataclass(frozen=True)
class Score:
    """One model's verdict on one post: ``kind`` is "text" or "image"."""

    kind: str
    score: float
    reason: str  # "offensive language", "explicit image"
    model: str  # "alt-profanity-check", "open_nsfw"


@dataclass(frozen=True)
class Flag:
    note_id: int
    kind: str
    score: float
    reason: str
    model: str
    created_at: float
    dismissed_at: float | None


@dataclass(frozen=True)
class Summary:
    report_id: int
    summary: str
    facts: str
    suggested: str
    source: str  # "model" or "scores"
    backend: str
    model: str
    created_at: float


def queue_score_in(
    conn: sqlite3.Connection,
    note_id: int,
    visibility: str,
    *,
    now: float,
    version: float | None,
    enabled: bool,
) -> None:
    """Queue the scoring of a stored post, in the transaction that stored it; an edit
    (``version``) queues a fresh job. Consent is checked by the job itself."""
    if not enabled or visibility not in SCORED_VISIBILITIES:
        return
    key = f"modscore:{note_id}" if version is None else f"modscore:{note_id}:{version!r}"
    jobs.enqueue_in(conn, SCORE_JOB, {"note_id": note_id}, now=now, dedupe_key=key)


def queue_report_in(conn: sqlite3.Connection, report_id: int, *, now: float) -> None:
    """Queue a new report's summary, in the transaction that stored the report."""
    jobs.enqueue_in(
        conn, REPORT_JOB, {"report_id": report_id}, now=now, dedupe_key=f"modreport:{report_id}"
    )


async def put_scores(db: Database, note_id: int, scores: Sequence[Score], *, now: float) -> bool:
    """Store a post's scores, replacing those of an earlier version (a kind it no longer has,
    pictures removed by an edit, goes). A dismissed flag stays dismissed unless its score
    rose. False when the post is gone."""

    def work(conn: sqlite3.Connection) -> bool:
        if conn.execute("SELECT 1 FROM notes WHERE id = ?", (note_id,)).fetchone() is None:
            return False
        kinds = [s.kind for s in scores]
        marks = ",".join("?" * len(kinds))
        conn.execute(
            f"DELETE FROM moderation_flags WHERE note_id = ? AND kind NOT IN ({marks})"
            if kinds
            else "DELETE FROM moderation_flags WHERE note_id = ?",
            (note_id, *kinds),
        )
        for s in scores:
            conn.execute(
                "INSERT INTO moderation_flags (note_id, kind, score, reason, model, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(note_id, kind) DO UPDATE SET"
                " dismissed_at = CASE WHEN excluded.score > moderation_flags.score + ? THEN NULL"
                " ELSE moderation_flags.dismissed_at END,"
                " score = excluded.score, reason = excluded.reason, model = excluded.model,"
                " created_at = excluded.created_at",
                (note_id, s.kind, s.score, s.reason, s.model, now, ROSE_BY),
            )
        return True

    return await db.transaction(work)


async def drop_scores(db: Database, note_id: int) -> None:
    """Forget a post's scores (its author no longer consents)."""
    await db.execute("DELETE FROM moderation_flags WHERE note_id = ?", (note_id,))


_FLAG_COLUMNS = "f.note_id, f.kind, f.score, f.reason, f.model, f.created_at, f.dismissed_at"


def _flag(r: sqlite3.Row) -> Flag:
    return Flag(int(r[0]), str(r[1]), float(r[2]), str(r[3]), str(r[4]), float(r[5]), r[6])


async def _rows_for(db: Database, sql: str, ids: Sequence[int]) -> list[sqlite3.Row]:
    """``sql`` run with ``{ids}`` standing for one placeholder per id; no trip for none."""
    if not ids:
        return []
    return await db.fetchall(sql.format(ids=",".join("?" * len(ids))), list(ids))


async def scores_of(db: Database, note_ids: Sequence[int]) -> dict[int, list[Flag]]:
    """The stored scores of these posts, dismissed or not, highest first."""
    rows = await _rows_for(
        db,
        f"SELECT {_FLAG_COLUMNS} FROM moderation_flags f WHERE f.note_id IN ({{ids}})"
        " ORDER BY f.score DESC",
        note_ids,
    )
    found: dict[int, list[Flag]] = {}
    for r in rows:
        flag = _flag(r)
        found.setdefault(flag.note_id, []).append(flag)
    return found


async def flagged(
    db: Database, *, text_threshold: float, image_threshold: float, limit: int = 50
) -> list[Flag]:
    """Open flags over their kind's threshold, highest score first, on posts that still exist
    and whose authors are not suspended (the admin has dealt with those)."""
    rows = await db.fetchall(
        f"SELECT {_FLAG_COLUMNS} FROM moderation_flags f"
        " JOIN notes n ON n.id = f.note_id JOIN actors a ON a.id = n.actor_id"
        " WHERE f.dismissed_at IS NULL AND a.suspended_at IS NULL"
        " AND ((f.kind = 'text' AND f.score >= ?) OR (f.kind = 'image' AND f.score >= ?))"
        " ORDER BY f.score DESC, f.note_id DESC LIMIT ?",
        (text_threshold, image_threshold, limit),
    )
    return [_flag(r) for r in rows]


async def dismiss(db: Database, note_id: int, *, now: float) -> bool:
    """The admin looked at a post's flags and found nothing to do; False if none was open."""
    async with db.write() as conn:
        cur = await conn.execute(
            "UPDATE moderation_flags SET dismissed_at = ? WHERE note_id = ?"
            " AND dismissed_at IS NULL",
            (now, note_id),
        )
        return cur.rowcount > 0


async def put_summary(db: Database, summary: Summary) -> bool:
    """Store (or, run again, replace) a report's summary; False when the report is gone."""
    s = summary
    async with db.write() as conn:
        cur = await conn.execute(
            "INSERT INTO report_summaries (report_id, summary, facts, suggested, source,"
            " backend, model, created_at) SELECT id, ?, ?, ?, ?, ?, ?, ? FROM reports"
            " WHERE id = ? ON CONFLICT(report_id) DO UPDATE SET summary = excluded.summary,"
            " facts = excluded.facts, suggested = excluded.suggested, source = excluded.source,"
            " backend = excluded.backend, model = excluded.model,"
            " created_at = excluded.created_at",
            (s.summary, s.facts, s.suggested, s.source, s.backend, s.model, s.created_at,
             s.report_id),
        )  # fmt: skip
        return cur.rowcount > 0


async def summaries_of(db: Database, report_ids: Sequence[int]) -> dict[int, Summary]:
    rows = await _rows_for(
        db,
        "SELECT report_id, summary, facts, suggested, source, backend, model, created_at"
        " FROM report_summaries WHERE report_id IN ({ids})",
        report_ids,
    )
    return {int(r[0]): Summary(*(r[i] for i in range(8))) for r in rows}


async def consent_candidates(db: Database) -> dict[int, int]:
    """Authors of public and unlisted posts who may have refused AI processing, with how many
    such posts each has: not ``indexable``, local (their switch), or a profile with "#no" in
    it (the opt-out tags). A superset: the consent rule decides for each."""
    rows = await db.fetchall(
        "SELECT n.actor_id, COUNT(*) FROM notes n JOIN actors a ON a.id = n.actor_id"
        f" WHERE n.visibility IN ({','.join('?' * len(SCORED_VISIBILITIES))})"
        " AND (a.indexable = 0 OR a.local = 1 OR LOWER(COALESCE(a.display_name, '') || ' ' ||"
        " COALESCE(a.summary, '') || ' ' || COALESCE(a.fields_json, '')) LIKE ?)"
        " GROUP BY n.actor_id",
        (*SCORED_VISIBILITIES, "%#no%"),
    )
    return {int(r[0]): int(r[1]) for r in rows}
