"""Counts for ``/metrics``, ``/admin`` and ``fediverse-ai jobs``, read from the database so
that they hold across restarts and whichever process did the work."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from .db import Database


@dataclass(frozen=True)
class KindSummary:
    """One job kind: how many per state, its newest error, and when it next runs."""

    kind: str
    states: dict[str, int]
    next_run: float | None  # the earliest run_after of its pending jobs
    last_error: str | None
    last_error_at: float | None


@dataclass(frozen=True)
class AIUsage:
    day: str  # UTC, as the daily budget counts it
    answers_today: int
    budget: int

    @property
    def budget_left(self) -> int:
        return max(0, self.budget - self.answers_today)


async def queue_depth(db: Database) -> dict[tuple[str, str], int]:
    """(kind, state) -> jobs. Done jobs are purged after ``retention.done_jobs_days``."""
    rows = await db.fetchall("SELECT kind, state, COUNT(*) FROM jobs GROUP BY kind, state")
    return {(str(r[0]), str(r[1])): int(r[2]) for r in rows}


async def job_kinds(db: Database) -> list[KindSummary]:
    """Every kind in the queue, with its states, next retry and newest error."""
    depth = await queue_depth(db)
    nexts = {
        str(r[0]): float(r[1])
        for r in await db.fetchall(
            "SELECT kind, MIN(run_after) FROM jobs WHERE state = 'pending' GROUP BY kind"
        )
    }
    # The newest error of each kind: the row holding the kind's MAX(updated_at), joined back
    # (SQLite's bare column beside MAX() would do it, but PostgreSQL has no such rule); of
    # rows tied on the time, the last id wins, as the dict keeps the last one.
    errors = {
        str(r[0]): (str(r[1]), float(r[2]))
        for r in await db.fetchall(
            "SELECT j.kind, j.last_error, j.updated_at FROM jobs j"
            " JOIN (SELECT kind, MAX(updated_at) AS newest FROM jobs"
            "       WHERE last_error IS NOT NULL GROUP BY kind) m"
            " ON m.kind = j.kind AND m.newest = j.updated_at"
            " WHERE j.last_error IS NOT NULL ORDER BY j.id"
        )
    }
    summaries = []
    for kind in sorted({k for k, _ in depth}):
        states = {s: n for (k, s), n in sorted(depth.items()) if k == kind}
        error, at = errors.get(kind, (None, None))
        summaries.append(KindSummary(kind, states, nexts.get(kind), error, at))
    return summaries


async def ai_answers(db: Database) -> dict[str, int]:
    """AI answers by outcome: done, failed, refused (skipped: consent, limits), pending."""
    rows = await db.fetchall("SELECT state, COUNT(*) FROM ai_replies GROUP BY state")
    named = {"skipped": "refused"}
    return {named.get(str(r[0]), str(r[0])): int(r[1]) for r in rows}


async def ai_usage(db: Database, *, now: float, budget: int) -> AIUsage:
    day = datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%d")
    used = await db.fetchval("SELECT count FROM ai_usage WHERE day = ?", (day,))
    return AIUsage(day, int(used or 0), budget)
