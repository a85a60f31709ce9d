"""Notifications: list, show, dismiss, clear.

They are derived from the tables that record each event (``storage.timelines.notifications``,
the web UI's list too), so an id is computed from the event: its millisecond, its type and its
actor. Ids then sort by time, as Mastodon's do, and pagination by ``max_id``/``min_id`` works.
"""

from __future__ import annotations

import math
from typing import Any

from quart import Blueprint, Response, request

from ..models import Actor
from ..state import State
from ..storage import actors, client_api, timelines
from ..web.common import StateHolder, json_response
from . import lookup, params, relations
from .entities import Builder
from .errors import RecordNotFound
from .times import iso
from .tokens import user

#: Our kinds in Mastodon's words; a reply notifies its author as a mention, as in Mastodon.
TYPES = {
    "mention": ("mention", 1),
    "reply": ("mention", 2),
    "follow": ("follow", 3),
    "follow_request": ("follow_request", 4),
    "like": ("favourite", 5),
    "boost": ("reblog", 6),
    "update": ("update", 7),
    "poll": ("poll", 8),
    "status": ("status", 9),
}


#: Notification ids per millisecond: a type digit and three of the actor's id.
NOTIFICATION_ID_MS = 10_000


def notification_id(item: timelines.Notification) -> int:
    """The event's millisecond, its type, and the actor's id modulo 1,000: ids sort by time,
    and two events share one only in the same millisecond, of one type, by such actors."""
    kind = TYPES.get(item.kind, ("", 0))[1]
    return math.floor(item.at * 1000) * NOTIFICATION_ID_MS + kind * 1000 + item.actor_id % 1000


def _ms(notification: int) -> float:
    """The start of the millisecond a notification id names, in seconds."""
    return (notification // 10_000) / 1000


#: Extra rows read around a page's edges: events sharing its edge's millisecond.
_EDGE = 20


async def recent(
    state: State,
    me: Actor,
    *,
    before: int | None,
    after: int | None,
    oldest_first: bool,
    limit: int,
    types: frozenset[str] = frozenset(),
    excluded: frozenset[str] = frozenset(),
) -> list[timelines.Notification]:
    """A page of ``me``'s notifications between two notification ids (either may be None),
    without the dismissed and cleared ones, of ``types`` (Mastodon's names) if given."""
    dismissed, cleared = await client_api.dismissed(state.db, me.id)
    # The query compares times; the ids are compared exactly below, so the bounds take in
    # the whole millisecond of the edges (a microsecond less, for floating point).
    lower = _ms(after) - 1e-6 if after is not None else None
    if cleared is not None:
        lower = max(lower, cleared) if lower is not None else cleared
    items = await timelines.notifications(
        state.db,
        me.id,
        me.uri,
        before=_ms(before) + 0.001 + 1e-6 if before is not None else None,
        after=lower,
        oldest_first=oldest_first,
        limit=limit + _EDGE,
    )
    items = sorted(items, key=notification_id, reverse=True)
    items = [
        i
        for i in items
        if (before is None or notification_id(i) < before)
        and (after is None or notification_id(i) > after)
    ]
    items = items[-limit:] if oldest_first else items[:limit]
    muted = (await relations.hidden(state, me)).from_notifications
    return [
        i
        for i in items
        if notification_id(i) not in dismissed
        and i.actor_id not in muted
        and (not types or TYPES[i.kind][0] in types)
        and TYPES[i.kind][0] not in excluded
    ]


async def entities(
    state: State, me: Actor, items: list[timelines.Notification]
) -> list[dict[str, Any]]:
    """Notification entities, leaving out those whose status ``me`` may no longer see."""
    who = await actors.by_ids(state.db, [i.actor_id for i in items])
    found = await client_api.notes_by_ids(state.db, [i.note_id for i in items if i.note_id])
    shown = await lookup.visible(state, me, list(found.values()))
    build = Builder(state, me)
    statuses = {int(d["id"]): d for d in await build.statuses(shown)}
    accounts = {int(d["id"]): d for d in await build.accounts(list(who.values()))}
    out = []
    for i in items:
        if i.actor_id not in accounts or (i.note_id is not None and i.note_id not in statuses):
            continue
        out.append(
            {
                "id": str(notification_id(i)),
                "type": TYPES[i.kind][0],
                "created_at": iso(i.at),
                "group_key": f"ungrouped-{notification_id(i)}",
                "account": accounts[i.actor_id],
                "status": statuses.get(i.note_id) if i.note_id is not None else None,
            }
        )
    return out


def register(bp: Blueprint, holder: StateHolder) -> None:
    @bp.get("/api/v1/notifications")
    async def list_notifications() -> Response:
        state = holder.state
        account, _ = await user(state, "read:notifications")
        pg = params.page(default=40, cap=80)
        items = await recent(
            state,
            account.actor,
            before=pg.max_id,
            after=pg.newer_than,
            oldest_first=pg.oldest_first,
            limit=pg.limit,
            types=frozenset(request.args.getlist("types[]") + request.args.getlist("types")),
            excluded=frozenset(request.args.getlist("exclude_types[]")),
        )
        docs = await entities(state, account.actor, items)
        return params.paged(state, docs, pg.limit)

    @bp.get("/api/v1/notifications/<raw_id>")
    async def show_notification(raw_id: str) -> Response:
        state = holder.state
        account, _ = await user(state, "read:notifications")
        wanted = params.object_id(raw_id)
        if wanted is None:
            raise RecordNotFound()
        items = await recent(
            state, account.actor, before=wanted + 1, after=wanted - 1, oldest_first=False, limit=20
        )
        docs = await entities(
            state, account.actor, [i for i in items if notification_id(i) == wanted]
        )
        if not docs:
            raise RecordNotFound()
        return json_response(docs[0])

    @bp.post("/api/v1/notifications/clear")
    async def clear_notifications() -> Response:
        state = holder.state
        account, _ = await user(state, "write:notifications")
        await client_api.clear(state.db, account.actor.id, now=state.now())
        return json_response({})

    @bp.post("/api/v1/notifications/<raw_id>/dismiss")
    async def dismiss_notification(raw_id: str) -> Response:
        state = holder.state
        account, _ = await user(state, "write:notifications")
        wanted = params.object_id(raw_id)
        if wanted is None:
            raise RecordNotFound()
        await client_api.dismiss(state.db, account.actor.id, wanted)
        return json_response({})
