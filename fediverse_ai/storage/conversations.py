"""Conversations (Mastodon's direct-message view): the direct notes a user wrote or was
mentioned in, grouped by thread, each named by its first such note's id. They are derived
from the notes; only their read and hidden marks are stored (migration 0018)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .client_api import IdWindow, _newest_first
from .db import Database


@dataclass(frozen=True)
class Conversation:
    id: int
    last_note_id: int
    read_upto: int
    last_by_me: bool

    @property
    def unread(self) -> bool:
        """A message of someone else's came after the user last read it (Mastodon's rule)."""
        return not self.last_by_me and self.last_note_id > self.read_upto


_THREADS = (
    "WITH mine AS ("
    " SELECT n.id, COALESCE(n.context_uri, n.uri) AS ctx FROM notes n"
    " WHERE n.visibility = 'direct' AND (n.actor_id = :me OR EXISTS ("
    "  SELECT 1 FROM note_mentions m WHERE m.note_id = n.id AND m.actor_uri = :me_uri))"
    "), threads AS (SELECT MIN(id) AS conv, MAX(id) AS last FROM mine GROUP BY ctx)"
    " SELECT t.conv, t.last, n.actor_id, COALESCE(s.read_upto, 0) FROM threads t"
    " JOIN notes n ON n.id = t.last"
    " LEFT JOIN conversation_states s ON s.actor_id = :me AND s.conversation_id = t.conv"
    " WHERE t.last > COALESCE(s.hidden_upto, 0)"
)


async def _query(db: Database, sql: str, values: dict[str, Any], me: int) -> list[Conversation]:
    rows = await db.fetchall(_THREADS + sql, values)
    return [
        Conversation(id=r[0], last_note_id=r[1], read_upto=r[3], last_by_me=r[2] == me)
        for r in rows
    ]


async def page(db: Database, me: int, me_uri: str, w: IdWindow) -> list[Conversation]:
    """The user's conversations, the latest message first, paged by its note id."""
    sql = ""
    values: dict[str, Any] = {"me": me, "me_uri": me_uri, "limit": w.limit}
    if w.max_id is not None:
        sql += " AND t.last < :max_id"
        values["max_id"] = w.max_id
    if w.newer_than is not None:
        sql += " AND t.last > :newer"
        values["newer"] = w.newer_than
    sql += f" ORDER BY t.last {'ASC' if w.oldest_first else 'DESC'} LIMIT :limit"
    return _newest_first(await _query(db, sql, values, me), w)


async def one(db: Database, me: int, me_uri: str, conversation_id: int) -> Conversation | None:
    found = await _query(
        db, " AND t.conv = :conv", {"me": me, "me_uri": me_uri, "conv": conversation_id}, me
    )
    return found[0] if found else None


async def mark(db: Database, me: int, c: Conversation, *, hide: bool) -> None:
    """Read up to its latest message; with ``hide``, also hidden until a newer one comes."""
    hidden = c.last_note_id if hide else 0
    await db.execute(
        "INSERT INTO conversation_states (actor_id, conversation_id, read_upto, hidden_upto)"
        " VALUES (?, ?, ?, ?) ON CONFLICT (actor_id, conversation_id) DO UPDATE SET"
        " read_upto = excluded.read_upto,"
        " hidden_upto = MAX(conversation_states.hidden_upto, excluded.hidden_upto)",
        (me, c.id, c.last_note_id, hidden),
    )
