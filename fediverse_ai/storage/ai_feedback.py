"""Feedback on the AI's answers: likes, boosts and replies, and their sums for ``/admin/ai``.

A row points at what caused it (a reaction, an announce, a reply note) and goes with it
(``ON DELETE CASCADE``): an Undo or a deleted reply needs no code here. Days are UTC
``YYYY-MM-DD`` strings computed in Python, so that the sums group by a plain column.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .ai_replies import day_of
from .db import Database

# The walk up an answer goes through the AI's own posts only, which end at the mention; the
# bound is a guard, far above any ``ai.max_posts_per_reply``.
MAX_CHAIN = 1000
_INSERT = (
    "INSERT INTO ai_feedback (mention_uri, answer_note_id, actor_id, kind, {column}, verdict,"
    " reason, day, created_at) SELECT ?, note_id, actor_id, ?, id, ?, ?, ?, ? FROM {table}"
    " WHERE actor_id = ? AND note_id = ? {extra} ON CONFLICT ({column}) DO NOTHING"
)


async def answer_of(db: Database, note_uri: str, ai_actor_id: int) -> str | None:
    """The mention whose answer ``note_uri`` is a post of (the first or a later one), or None.

    An answer's first post is ``ai_replies.reply_uri``; the others reply to the one before,
    so the walk goes up through the AI's own posts until it meets a first post.
    """
    value = await db.fetchval(
        "WITH RECURSIVE up(uri, depth) AS (VALUES (?, 0) UNION ALL"
        " SELECT n.in_reply_to_uri, up.depth + 1 FROM up JOIN notes n ON n.uri = up.uri"
        " WHERE n.actor_id = ? AND n.in_reply_to_uri IS NOT NULL AND up.depth < ?)"
        " SELECT r.mention_uri FROM up JOIN ai_replies r ON r.reply_uri = up.uri"
        " ORDER BY up.depth LIMIT 1",
        (note_uri, ai_actor_id, MAX_CHAIN),
    )
    return str(value) if value is not None else None


async def add_like(
    db: Database,
    *,
    mention_uri: str,
    note_id: int,
    actor_id: int,
    reaction_kind: str,
    emoji: str,
    verdict: str,
    reason: str,
    now: float,
) -> None:
    """Record the reaction of ``actor_id`` on the answer's post ``note_id`` (once)."""
    sql = _INSERT.format(
        column="reaction_id", table="reactions", extra="AND kind = ? AND emoji = ?"
    )
    params = (mention_uri, "like", verdict, reason, day_of(now), now, actor_id, note_id)
    await db.execute(sql, (*params, reaction_kind, emoji))


async def add_boost(
    db: Database, *, mention_uri: str, note_id: int, actor_id: int, now: float
) -> None:
    sql = _INSERT.format(column="announce_id", table="announces", extra="")
    await db.execute(
        sql, (mention_uri, "boost", "positive", "", day_of(now), now, actor_id, note_id)
    )


async def add_reply(
    db: Database,
    *,
    mention_uri: str,
    answer_note_id: int,
    reply_note_id: int,
    actor_id: int,
    verdict: str,
    reason: str,
    now: float,
) -> None:
    await db.execute(
        "INSERT INTO ai_feedback (mention_uri, answer_note_id, actor_id, kind, reply_note_id,"
        " verdict, reason, day, created_at) VALUES (?, ?, ?, 'reply', ?, ?, ?, ?, ?)"
        # An edited reply is read again: its verdict is the latest version's.
        " ON CONFLICT (reply_note_id) DO UPDATE SET verdict = excluded.verdict,"
        " reason = excluded.reason",
        (mention_uri, answer_note_id, actor_id, reply_note_id, verdict, reason, day_of(now), now),
    )


# --- sums -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Count:
    day: str
    kind: str  # like | boost | reply
    verdict: str  # positive | negative | neutral | withheld
    count: int


@dataclass(frozen=True)
class Group:
    """Answers and their feedback for one backend, model and kind of request."""

    backend: str
    model: str
    intent: str
    answers: int
    likes: int = 0
    boosts: int = 0
    positive: int = 0  # replies that praise
    negative: int = 0  # complaints: replies, and reactions with a 👎
    neutral: int = 0
    withheld: int = 0

    @property
    def approval(self) -> float | None:
        """Positive feedback (likes, boosts, praise) over all rated feedback, in percent."""
        good = self.likes + self.boosts + self.positive
        rated = good + self.negative
        return 100.0 * good / rated if rated else None


async def daily(db: Database, since_day: str) -> list[Count]:
    rows = await db.fetchall(
        "SELECT day, kind, verdict, COUNT(*) FROM ai_feedback WHERE day >= ?"
        " GROUP BY day, kind, verdict",
        (since_day,),
    )
    return [Count(str(r[0]), str(r[1]), str(r[2]), int(r[3])) for r in rows]


async def answers_daily(db: Database, since_day: str) -> dict[str, int]:
    rows = await db.fetchall(
        "SELECT day, COUNT(*) FROM ai_replies WHERE day >= ? GROUP BY day", (since_day,)
    )
    return {str(r[0]): int(r[1]) for r in rows}


_SUMS = {
    "likes": "kind = 'like' AND verdict != 'negative'",
    "boosts": "kind = 'boost'",
    "positive": "kind = 'reply' AND verdict = 'positive'",
    # A complaint is one however it came (a reply, or a 👎 reaction), as in the charts.
    "negative": "verdict = 'negative'",
    "neutral": "kind = 'reply' AND verdict = 'neutral'",
    "withheld": "verdict = 'withheld'",
}
_PER_ANSWER = ", ".join(
    f"SUM(CASE WHEN {cond} THEN 1 ELSE 0 END) AS {name}" for name, cond in _SUMS.items()
)


async def groups(db: Database, since_day: str) -> list[Group]:
    """Per backend, model and intent: the answers of the period and the feedback they got."""
    # Summed per answer first, from the covering index alone, then joined once per answer.
    rows = await db.fetchall(
        "SELECT COALESCE(r.backend, ''), COALESCE(r.model, ''), COALESCE(r.intent, ''),"
        f" COUNT(*), {', '.join(f'COALESCE(SUM(f.{name}), 0)' for name in _SUMS)}"
        f" FROM ai_replies r LEFT JOIN (SELECT mention_uri, {_PER_ANSWER} FROM ai_feedback"
        " GROUP BY mention_uri) f ON f.mention_uri = r.mention_uri"
        " WHERE r.day >= ? GROUP BY 1, 2, 3 ORDER BY 1, 2, 3",
        (since_day,),
    )
    return [
        Group(str(r[0]), str(r[1]), str(r[2]), int(r[3]), *(int(v) for v in r[4:])) for r in rows
    ]


# --- the worst answers --------------------------------------------------------------------------


@dataclass(frozen=True)
class Rated:
    mention_uri: str
    reply_uri: str | None  # the answer's first post
    backend: str
    model: str
    intent: str
    positive: int  # likes, boosts and praise
    negative: int
    answered_at: float | None
    answer_note_id: int | None = None  # the first post, while it exists
    answer_content: str = ""


@dataclass(frozen=True)
class Complaint:
    """One piece of negative feedback on an answer: who, why, and which reply said it."""

    mention_uri: str
    actor_id: int
    reason: str
    reply_note_id: int | None
    created_at: float
    reply_content: str = ""
    reply_visibility: str = ""


async def worst(db: Database, *, since_day: str, limit: int) -> list[Rated]:
    """Answers with complaints, the most disliked first (complaints minus praise)."""
    # Ranked from the covering index alone; only the answers shown are joined.
    rows = await db.fetchall(
        "SELECT f.mention_uri, r.reply_uri, COALESCE(r.backend, ''), COALESCE(r.model, ''),"
        " COALESCE(r.intent, ''), f.good, f.bad, r.decided_at, n.id, COALESCE(n.content, '')"
        # Sums named in a subquery: PostgreSQL does not let ORDER BY compute with aliases.
        " FROM (SELECT mention_uri, good, bad FROM (SELECT mention_uri,"
        " SUM(CASE WHEN verdict = 'positive' THEN 1 ELSE 0 END) AS good,"
        " SUM(CASE WHEN verdict = 'negative' THEN 1 ELSE 0 END) AS bad"
        " FROM ai_feedback WHERE day >= ? GROUP BY mention_uri) sums WHERE bad > 0"
        " ORDER BY bad - good DESC, bad DESC, mention_uri LIMIT ?) f"
        " JOIN ai_replies r ON r.mention_uri = f.mention_uri"
        " LEFT JOIN notes n ON n.uri = r.reply_uri"
        " ORDER BY f.bad - f.good DESC, f.bad DESC, f.mention_uri",
        (since_day, limit),
    )
    return [
        Rated(
            mention_uri=str(r[0]),
            reply_uri=r[1],
            backend=str(r[2]),
            model=str(r[3]),
            intent=str(r[4]),
            positive=int(r[5]),
            negative=int(r[6]),
            answered_at=r[7],
            answer_note_id=r[8],
            answer_content=str(r[9]),
        )
        for r in rows
    ]


async def complaints(db: Database, mention_uris: Sequence[str], *, per: int) -> list[Complaint]:
    """The newest ``per`` complaints on each of these answers."""
    if not mention_uris:
        return []
    marks = ",".join("?" * len(mention_uris))
    rows = await db.fetchall(
        "SELECT f.mention_uri, f.actor_id, f.reason, f.reply_note_id, f.created_at,"
        " COALESCE(n.content, ''), COALESCE(n.visibility, '') FROM ai_feedback f"
        " LEFT JOIN notes n ON n.id = f.reply_note_id"
        f" WHERE f.mention_uri IN ({marks}) AND f.verdict = 'negative'"
        " ORDER BY f.mention_uri, f.created_at DESC, f.id DESC",
        tuple(mention_uris),
    )
    out: list[Complaint] = []
    taken: dict[str, int] = {}
    for r in rows:
        mention = str(r[0])
        if taken.get(mention, 0) < per:
            taken[mention] = taken.get(mention, 0) + 1
            out.append(
                Complaint(mention, int(r[1]), str(r[2]), r[3], float(r[4]), str(r[5]), str(r[6]))
            )
    return out
