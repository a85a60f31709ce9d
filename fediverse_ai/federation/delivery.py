"""Outgoing delivery: one durable job per target inbox, signed at send time.

The jobs of one inbox form a queue (``queue_key``, storage/jobs.py): they are sent one at a
time in the order they were queued, so a peer that was down receives a Create before its
Update, and a Follow before its Undo, whatever the retries did in between.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from ..errors import DeliveryError, UnsafeURL
from ..fetcher import post_activity
from ..netguard import is_blocked_domain
from ..retry import CircuitState, circuit_is_open
from ..state import State
from ..storage import actors, domains, jobs, moderation
from ..vocab import host_of

DELIVER = "deliver"


async def enqueue(
    state: State,
    activity: dict[str, Any],
    *,
    sender_actor_id: int,
    inboxes: Iterable[str],
    while_suspended: bool = False,
) -> int:
    """Queue ``activity`` for each distinct remote inbox; returns how many were queued.

    An account the admin suspended sends nothing (its automatic answers, its polls' updates)
    but the ``Update`` of its actor that says so (``while_suspended``), as in Mastodon, and
    the ``Delete`` of what is removed meanwhile (an admin's removal, the account's deletion),
    so that copies elsewhere go too.
    """
    if (
        not while_suspended
        and activity.get("type") != "Delete"
        and await moderation.is_suspended(state.db, sender_actor_id)
    ):
        return 0
    body = json.dumps(activity, separators=(",", ":"))
    blocked = await state.blocked_domains()
    targets = []
    for inbox in dict.fromkeys(inboxes):
        host = host_of(inbox)
        if host is None or state.urls.is_local(inbox):
            continue
        if is_blocked_domain(host.split(":")[0], blocked):
            continue
        targets.append(inbox)
    batch = [
        (
            DELIVER,
            {"inbox": inbox, "actor_id": sender_actor_id, "body": body},
            f"deliver:{activity['id']}:{inbox}",
        )
        for inbox in targets
    ]
    if batch:
        # One queue per inbox: what is sent to an inbox arrives in the order it was queued.
        await jobs.enqueue_many(state.db, batch, now=state.now(), queue_keys=targets)
        state.work_queued(len(batch))
    return len(batch)


class CircuitOpen(DeliveryError):
    """The target's domain failed repeatedly: wait before trying it again."""


async def deliver(state: State, payload: dict[str, Any]) -> None:
    """Send one queued delivery; raises DeliveryError for the worker to classify."""
    inbox = str(payload["inbox"])
    domain = host_of(inbox) or ""
    now = state.now()
    failures, open_until = await _health(state, domain)
    if _is_open(open_until, now):
        # Another process may have closed it since this one looked (a delivery got through):
        # an open circuit is rare, so it is read again before holding the delivery back.
        failures, open_until = await _health(state, domain, fresh=True)
        if _is_open(open_until, now):
            raise CircuitOpen("circuit open for this domain", retry_after=(open_until or now) - now)
    account = await state.sender(int(payload["actor_id"]))
    if account is None:
        raise DeliveryError("sending actor no longer exists", permanent=True)
    body = str(payload["body"]).encode("utf-8")
    try:
        await post_activity(
            state.inbox_client, inbox, body, guard=state.guard, auth=await state.auth_for(account)
        )
    except UnsafeURL as exc:
        raise DeliveryError(exc.message, permanent=True) from None
    except DeliveryError as exc:
        if exc.http_status == 410:
            await _forget_gone_inbox(state, inbox)
        if not exc.permanent:
            # The count comes back from the database: this process's memo learns the
            # failures the other workers recorded too.
            state.circuits.put(domain, await domains.record_failure(state.db, domain, now=now))
        raise
    if failures or open_until:
        await domains.record_success(state.db, domain, now=now)
        state.circuits.put(domain, (0, None))


async def _health(state: State, domain: str, *, fresh: bool = False) -> domains.Health:
    """The domain's circuit as this process last read or wrote it (``State.circuits``, a few
    seconds old at most), or as the database has it now (``fresh``)."""
    health = None if fresh else state.circuits.get(domain)
    if health is None:
        health = await domains.get(state.db, domain)
        state.circuits.put(domain, health)
    return health


async def _forget_gone_inbox(state: State, inbox: str) -> None:
    """410 on a personal inbox means the actor is gone: stop delivering to it."""
    rows = await state.db.fetchall("SELECT uri FROM actors WHERE local = 0 AND inbox = ?", (inbox,))
    for row in rows:
        await actors.delete_remote(state.db, row[0])


def jitter() -> float:
    return random.random()


def _is_open(open_until: float | None, now: float) -> bool:
    circuit = CircuitState(open_until=_dt(open_until) if open_until else None)
    return circuit_is_open(circuit, now=_dt(now))


def _dt(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)
