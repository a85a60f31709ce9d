"""Follows end when an admin suspends a remote account or a whole domain, as in Mastodon.

A remote account suspended here keeps its own server, and a follow of one of our accounts
would go on bringing it the followers-only posts: each of its follows of a local account is
removed and answered with a ``Reject`` (Mastodon's ``SuspendAccountService`` does the same),
and each local follow of it is removed and undone, so that its server stops delivering to
an inbox that refuses it. A domain's block removes the follows with every account there;
nothing is sent, as nothing is ever sent to a blocked domain. Neither is undone when the
suspension is lifted: nothing can make a remote account follow again (Mastodon says so too).

The work is a job, queued in the transaction that records the suspension or the block: never
one without the other. It does nothing if the suspension was lifted (or the block removed)
before it ran. Each ``Reject`` is queued before its follow is removed, with an id fixed by the
follow, so a job run again after a crash sends nothing twice.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from ..models import Actor, Follow
from ..netguard import is_blocked_domain
from ..state import State
from ..storage import activities, actors, follows, jobs, moderation, settings
from . import interactions

SEVER = "sever_follows"


async def suspend_remote(state: State, actor_id: int) -> None:
    """Record a remote actor's suspension, and queue the end of its follows."""
    now = state.now()

    def work(conn: sqlite3.Connection) -> None:
        moderation.set_suspended_in(conn, actor_id, at=now)
        key = f"{SEVER}:{actor_id}:{now}"
        jobs.enqueue_in(conn, SEVER, {"actor_id": actor_id}, now=now, dedupe_key=key)

    await state.db.transaction(work)
    state.work_queued()


async def block_domain(state: State, domain: str, *, reason: str) -> None:
    """Record the admin's block of ``domain``, and queue the end of the follows with it."""
    now = state.now()

    def work(conn: sqlite3.Connection) -> None:
        settings.add_domain_block_in(conn, domain, reason=reason, now=now)
        key = f"{SEVER}:{domain}:{now}"
        jobs.enqueue_in(conn, SEVER, {"domain": domain}, now=now, dedupe_key=key)

    await state.db.transaction(work)
    state.work_queued()


async def sever(state: State, payload: dict[str, Any]) -> None:
    """The job: end the follows, if the suspension or block still stands."""
    db = state.db
    if payload.get("actor_id") is not None:
        target = await actors.by_id(db, int(payload["actor_id"]))
        if target is None or target.local or not await moderation.is_suspended(db, target.id):
            return
        await _sever(state, target, tell=True)
        return
    domain = str(payload.get("domain") or "")
    if domain not in {b.domain for b in await settings.domain_blocks(db)}:
        return
    for actor_id in await follows.remote_ids_with_follows(db):
        found = await actors.by_id(db, actor_id)
        if found is not None and is_blocked_domain(found.domain.split(":")[0], frozenset({domain})):
            await _sever(state, found, tell=False)


async def _sever(state: State, target: Actor, *, tell: bool) -> None:
    for follow in await follows.involving(state.db, target.id):
        if follow.follower_id == target.id:
            local = await actors.by_id(state.db, follow.followee_id)
            if tell and local is not None:
                await _reject(state, local, target, follow)
            await follows.remove(state.db, target.id, follow.followee_id)
            continue
        account = await actors.account_by_actor_id(state.db, follow.follower_id)
        if tell and account is not None:
            await interactions.unfollow(state, account, target)  # removes it, sends the Undo
        else:
            await follows.remove(state.db, follow.follower_id, target.id)


async def _reject(state: State, local: Actor, target: Actor, follow: Follow) -> None:
    raw = await activities.get_raw(state.db, follow.uri) if follow.uri else None
    if raw is None:
        raw = {"id": follow.uri, "type": "Follow", "actor": target.uri, "object": local.uri}
    receipt = f"{SEVER}:{follow.uri or follow.id}"
    await interactions.send_reject(state, local, target, raw, receipt=receipt)
