"""Per-domain delivery health, for the circuit breaker in delivery."""

from __future__ import annotations

from .db import Database


async def get(db: Database, domain: str) -> tuple[int, float | None]:
    row = await db.fetchone(
        "SELECT failures, open_until FROM domain_health WHERE domain = ?", (domain,)
    )
    return (int(row[0]), row[1]) if row else (0, None)


async def record_failure(
    db: Database, domain: str, *, failures: int, open_until: float | None
) -> None:
    await db.execute(
        "INSERT INTO domain_health (domain, failures, open_until) VALUES (?, ?, ?)"
        " ON CONFLICT(domain) DO UPDATE SET failures = excluded.failures,"
        " open_until = excluded.open_until",
        (domain, failures, open_until),
    )


async def record_success(db: Database, domain: str, *, now: float) -> None:
    await db.execute(
        "INSERT INTO domain_health (domain, failures, open_until, last_success)"
        " VALUES (?, 0, NULL, ?)"
        " ON CONFLICT(domain) DO UPDATE SET failures = 0, open_until = NULL,"
        " last_success = excluded.last_success",
        (domain, now),
    )
