"""Admin-editable instance settings and domain blocks."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from .db import Database


async def all_settings(db: Database) -> dict[str, str]:
    rows = await db.fetchall("SELECT key, value FROM settings")
    return {r[0]: r[1] for r in rows}


async def put(db: Database, values: dict[str, str], *, now: float) -> None:
    async with db.write() as conn:
        for key, value in values.items():
            await conn.execute(
                "INSERT INTO settings (key, value, updated_at) VALUES (?, ?, ?)"
                " ON CONFLICT(key) DO UPDATE SET value = excluded.value,"
                " updated_at = excluded.updated_at",
                (key, value, now),
            )


@dataclass(frozen=True)
class DomainBlock:
    domain: str
    reason: str
    created_at: float


async def domain_blocks(db: Database) -> list[DomainBlock]:
    rows = await db.fetchall("SELECT domain, reason, created_at FROM domain_blocks ORDER BY domain")
    return [DomainBlock(r[0], r[1], r[2]) for r in rows]


def add_domain_block_in(conn: sqlite3.Connection, domain: str, *, reason: str, now: float) -> None:
    """Inside the caller's transaction, which queues the end of the follows with the domain."""
    conn.execute(
        "INSERT INTO domain_blocks (domain, reason, created_at) VALUES (?, ?, ?)"
        " ON CONFLICT(domain) DO UPDATE SET reason = excluded.reason",
        (domain, reason, now),
    )


async def remove_domain_block(db: Database, domain: str) -> bool:
    async with db.write() as conn:
        cur = await conn.execute("DELETE FROM domain_blocks WHERE domain = ?", (domain,))
        return cur.rowcount > 0
