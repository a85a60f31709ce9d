"""The ``actor_totals`` job: a remote account's follower, following and post totals.

Mastodon shows a remote account's counts as its server states them (the ``totalItems`` of the
actor's ``followers``, ``following`` and ``outbox`` collections, read when the actor is
processed), not the few follows and posts it happens to know. We read the same three documents,
but in a job queued when the actor is fetched or refreshed, so that the actor fetch never waits
on three more requests. Each is a signed, SSRF-guarded fetch with a small size cap, on the
actor's own host only; a total that cannot be read is left unknown and the local count shown.
"""

from __future__ import annotations

import logging
from typing import Any

from ..errors import BadRequest, FetchError
from ..fetcher import FetchLimits, fetch_ap_object
from ..models import Actor
from ..state import State
from ..storage import actor_totals, actors, jobs
from ..vocab import same_origin

log = logging.getLogger(__name__)

TOTALS_JOB = "actor_totals"
#: A collection's first page may be inlined; a total is a number, so a small cap suffices.
LIMITS = FetchLimits(max_bytes=262_144, max_redirects=3, total_timeout=15.0)
#: Read again at most this often per actor, however many Updates and refetches arrive.
REFRESH_SECONDS = 6 * 3600
MAX_TOTAL = 2**31 - 1


async def queue(state: State, actor: Actor) -> bool:
    """Queue a read of the actor's totals unless one ran or was queued recently."""
    if actor.local or not (actor.followers_url or actor.following_url or actor.outbox):
        return False
    now = state.now()
    last = await actor_totals.fetched_at(state.db, actor.id)
    if last is not None and now - last < REFRESH_SECONDS:
        return False
    queued = await jobs.enqueue(
        state.db,
        TOTALS_JOB,
        {"actor_id": actor.id},
        now=now,
        dedupe_key=f"totals:{actor.id}:{int(now // REFRESH_SECONDS)}",
    )
    if queued:
        state.work_queued()
    return queued


async def fetch_totals(state: State, payload: dict[str, Any]) -> None:
    """Job handler: read the three totals and store them; fetch failures are not retried
    (the next refresh of the actor tries again), so a dead server costs one job."""
    actor_id = payload.get("actor_id")
    if not isinstance(actor_id, int) or isinstance(actor_id, bool):
        raise BadRequest("actor_totals: actor_id must be an integer")
    actor = await actors.by_id(state.db, actor_id)
    if actor is None or actor.local:
        return
    await actor_totals.put(
        state.db,
        actor.id,
        followers=await _total(state, actor, actor.followers_url),
        following=await _total(state, actor, actor.following_url),
        statuses=await _total(state, actor, actor.outbox),
        now=state.now(),
    )


async def _total(state: State, actor: Actor, url: str | None) -> int | None:
    if not url or not same_origin(url, actor.uri):
        return None
    try:
        doc = await fetch_ap_object(
            state.http, url, guard=state.guard, auth=await state.instance_auth(), limits=LIMITS
        )
    except (FetchError, BadRequest) as exc:
        log.info("totals of %s: %s not read: %s", actor.uri, url, exc.message)
        return None
    total = doc.get("totalItems")
    if isinstance(total, bool) or not isinstance(total, int) or not 0 <= total <= MAX_TOTAL:
        return None
    return total
