"""Quotes: which note quotes which, the stamps our users gave, and per-post quote policies."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from ..as2_quote import QuotePolicy, QuoteRef
from .db import Database

QuoteState = Literal["pending", "accepted", "rejected", "revoked", "legacy"]


@dataclass(frozen=True)
class Quote:
    note_id: int
    quoted_uri: str
    kind: str
    state: QuoteState
    authorization_uri: str | None
    request_uri: str | None


@dataclass(frozen=True)
class Stamp:
    id: int
    token: str
    quoted_note_id: int
    quoting_uri: str
    quoter_uri: str
    revoked_at: float | None


_QUOTE = "note_id, quoted_uri, kind, state, authorization_uri, request_uri"
_STAMP = "id, token, quoted_note_id, quoting_uri, quoter_uri, revoked_at"


def _quote(row: sqlite3.Row) -> Quote:
    return Quote(*row)


def record_in(
    conn: sqlite3.Connection,
    note_id: int,
    ref: QuoteRef | None,
    *,
    now: float,
    state: QuoteState | None = None,
    request_uri: str | None = None,
) -> None:
    """What ``note_id`` quotes (an edit may change or drop it). A changed quote starts again as
    unverified: a stamp is for one pair of posts, and an edit may not carry the old one over."""
    if ref is None:
        conn.execute("DELETE FROM quotes WHERE note_id = ?", (note_id,))
        return
    initial = state or ("pending" if ref.kind == "fep044f" else "legacy")
    conn.execute(
        "INSERT INTO quotes (note_id, quoted_uri, kind, state, authorization_uri, request_uri,"
        " updated_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(note_id) DO UPDATE SET"
        " kind = excluded.kind, authorization_uri = excluded.authorization_uri,"
        " state = CASE WHEN quotes.quoted_uri = excluded.quoted_uri"
        "  AND quotes.authorization_uri IS excluded.authorization_uri THEN quotes.state"
        "  ELSE excluded.state END,"
        " quoted_uri = excluded.quoted_uri, updated_at = excluded.updated_at",
        (note_id, ref.uri, ref.kind, initial, ref.authorization, request_uri, now),
    )


async def of_note(db: Database, note_id: int) -> Quote | None:
    row = await db.fetchone(f"SELECT {_QUOTE} FROM quotes WHERE note_id = ?", (note_id,))
    return _quote(row) if row else None


async def for_notes(db: Database, note_ids: Sequence[int]) -> dict[int, Quote]:
    if not note_ids:
        return {}
    marks = ",".join("?" * len(note_ids))
    rows = await db.fetchall(
        f"SELECT {_QUOTE} FROM quotes WHERE note_id IN ({marks})", tuple(note_ids)
    )
    return {r["note_id"]: _quote(r) for r in rows}


async def set_state(
    db: Database,
    note_id: int,
    state: QuoteState,
    *,
    now: float,
    authorization_uri: str | None = None,
) -> None:
    await db.execute(
        "UPDATE quotes SET state = ?, authorization_uri = COALESCE(?, authorization_uri),"
        " updated_at = ? WHERE note_id = ?",
        (state, authorization_uri, now, note_id),
    )


async def by_authorization(db: Database, uri: str) -> list[Quote]:
    rows = await db.fetchall(f"SELECT {_QUOTE} FROM quotes WHERE authorization_uri = ?", (uri,))
    return [_quote(r) for r in rows]


async def by_request(db: Database, uri: str) -> Quote | None:
    row = await db.fetchone(f"SELECT {_QUOTE} FROM quotes WHERE request_uri = ?", (uri,))
    return _quote(row) if row else None


async def add_stamp(
    db: Database, *, token: str, quoted_note_id: int, quoting_uri: str, quoter_uri: str, now: float
) -> Stamp:
    """The stamp for this pair of posts: a new one, or the one already given (a repeated
    request gets the same stamp; a revoked one stays revoked)."""
    await db.execute(
        "INSERT INTO quote_stamps (token, quoted_note_id, quoting_uri, quoter_uri, created_at)"
        " VALUES (?, ?, ?, ?, ?) ON CONFLICT(quoted_note_id, quoting_uri) DO NOTHING",
        (token, quoted_note_id, quoting_uri, quoter_uri, now),
    )
    row = await db.fetchone(
        f"SELECT {_STAMP} FROM quote_stamps WHERE quoted_note_id = ? AND quoting_uri = ?",
        (quoted_note_id, quoting_uri),
    )
    assert row is not None
    return Stamp(*row)


async def stamp_by_token(db: Database, token: str) -> Stamp | None:
    row = await db.fetchone(f"SELECT {_STAMP} FROM quote_stamps WHERE token = ?", (token,))
    return Stamp(*row) if row else None


async def stamps_of(db: Database, quoted_note_id: int) -> list[Stamp]:
    rows = await db.fetchall(
        f"SELECT {_STAMP} FROM quote_stamps WHERE quoted_note_id = ? ORDER BY id",
        (quoted_note_id,),
    )
    return [Stamp(*r) for r in rows]


async def revoke_stamp(db: Database, stamp_id: int, *, now: float) -> bool:
    """True when the stamp was live until now (a second revocation sends nothing)."""
    return await db.transaction(
        lambda conn: (
            conn.execute(
                "UPDATE quote_stamps SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
                (now, stamp_id),
            ).rowcount
            > 0
        )
    )


def set_policy_in(conn: sqlite3.Connection, note_id: int, policy: QuotePolicy) -> None:
    conn.execute(
        "INSERT INTO quote_policies (note_id, policy) VALUES (?, ?)"
        " ON CONFLICT(note_id) DO UPDATE SET policy = excluded.policy",
        (note_id, policy),
    )


async def policy_of(db: Database, note_id: int) -> QuotePolicy | None:
    value = await db.fetchval("SELECT policy FROM quote_policies WHERE note_id = ?", (note_id,))
    return value if value in ("public", "followers", "nobody") else None
