"""Per-domain delivery health, for the circuit breaker in delivery.

Shared by every worker process (issue 15): a failure is counted by the database itself, one
``failures + 1`` per failed delivery, and the row that comes back decides whether the circuit
opens, so two workers failing on one domain at once count two failures, not one written
over the other from what each had read before.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime

from ..retry import CircuitState, circuit_after_failure
from .db import Database

Health = tuple[int, float | None]  # consecutive failures, open until (a timestamp)


async def get(db: Database, domain: str) -> Health:
    row = await db.fetchone(
        "SELECT failures, open_until FROM domain_health WHERE domain = ?", (domain,)
    )
    return (int(row[0]), row[1]) if row else (0, None)


async def record_failure(db: Database, domain: str, *, now: float) -> Health:
    """Count one more failed delivery to ``domain``; the circuit as it now stands."""

    def work(conn: sqlite3.Connection) -> Health:
        # The upsert holds the row until commit, so the open_until written below is decided
        # from the count this failure made, whatever the other processes are doing.
        row = conn.execute(
            "INSERT INTO domain_health (domain, failures) VALUES (?, 1)"
            " ON CONFLICT(domain) DO UPDATE SET failures = domain_health.failures + 1"
            " RETURNING failures, open_until",
            (domain,),
        ).fetchone()
        failures, open_until = int(row[0]), row[1]
        before = CircuitState(failures - 1, _dt(open_until) if open_until else None)
        after = circuit_after_failure(before, now=_dt(now))
        until = after.open_until.timestamp() if after.open_until else None
        if until != open_until:
            conn.execute(
                "UPDATE domain_health SET open_until = ? WHERE domain = ?", (until, domain)
            )
        return failures, until

    return await db.transaction(work)


async def record_success(db: Database, domain: str, *, now: float) -> None:
    await db.execute(
        "INSERT INTO domain_health (domain, failures, open_until, last_success)"
        " VALUES (?, 0, NULL, ?)"
        " ON CONFLICT(domain) DO UPDATE SET failures = 0, open_until = NULL,"
        " last_success = excluded.last_success",
        (domain, now),
    )


def _dt(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)
