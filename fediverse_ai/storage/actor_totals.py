"""Profile counters: a remote actor's own totals where its server published them, else ours."""

from __future__ import annotations

from dataclasses import dataclass

from ..models import Actor
from . import follows, notes
from .db import Database

#: Posts counted as an account's own (what its profile and the client API show).
PUBLIC_VIS = ("public", "unlisted")


@dataclass(frozen=True)
class Counts:
    statuses: int
    followers: int
    following: int


async def put(
    db: Database,
    actor_id: int,
    *,
    followers: int | None,
    following: int | None,
    statuses: int | None,
    now: float,
) -> None:
    """Store what was read; a total that could not be read this time is forgotten (unknown)."""
    await db.execute(
        "INSERT INTO actor_totals (actor_id, followers, following, statuses, fetched_at)"
        " SELECT id, ?, ?, ?, ? FROM actors WHERE id = ? AND local = 0"
        " ON CONFLICT(actor_id) DO UPDATE SET followers = excluded.followers,"
        " following = excluded.following, statuses = excluded.statuses,"
        " fetched_at = excluded.fetched_at",
        (followers, following, statuses, now, actor_id),
    )


async def fetched_at(db: Database, actor_id: int) -> float | None:
    value = await db.fetchval("SELECT fetched_at FROM actor_totals WHERE actor_id = ?", (actor_id,))
    return float(value) if value is not None else None


async def counts(db: Database, actor: Actor) -> Counts:
    """The numbers a profile shows: the remote server's totals where known (as Mastodon shows
    them), each else counted from what we store."""
    row = (
        None
        if actor.local
        else await db.fetchone(
            "SELECT followers, following, statuses FROM actor_totals WHERE actor_id = ?",
            (actor.id,),
        )
    )
    followers = row[0] if row is not None else None
    following = row[1] if row is not None else None
    statuses = row[2] if row is not None else None
    return Counts(
        statuses=int(statuses)
        if statuses is not None
        else await notes.count_by_actor(db, actor.id, visibilities=PUBLIC_VIS),
        followers=int(followers)
        if followers is not None
        else await follows.count_followers(db, actor.id),
        following=int(following)
        if following is not None
        else await follows.count_following(db, actor.id),
    )
