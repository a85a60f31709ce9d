"""Timelines: home (own posts, followed accounts, mentions, boosts by followed accounts, the
same rule as the web UI's /home) and public (``local``, ``remote``, ``only_media``)."""

from __future__ import annotations

from typing import Any

from quart import Blueprint, Response, request

from ..state import State
from ..storage import actors, client_api, notes, timelines
from ..storage.client_api import REBLOG_ID_BASE, Announce
from ..web.common import StateHolder
from . import lookup, params, relations
from .entities import Builder
from .tokens import optional, user, viewer_of


async def _home_cursor(state: State, status_id: int | None) -> tuple[float, int] | None:
    """The home query's ``(at, key)`` position of a status id (a note or a reblog)."""
    if status_id is None:
        return None
    if status_id >= REBLOG_ID_BASE:
        found = await client_api.announce_by_id(state.db, status_id - REBLOG_ID_BASE)
        return (found.published, -found.id) if found else None
    note = await notes.by_id(state.db, status_id)
    return (note.published, note.id) if note else None


def register(bp: Blueprint, holder: StateHolder) -> None:
    @bp.get("/api/v1/timelines/home")
    async def home() -> Response:
        state = holder.state
        account, _ = await user(state, "read:statuses")
        me = account.actor
        pg = params.page()
        items = await timelines.home(
            state.db,
            me.id,
            me.uri,
            cursor=await _home_cursor(state, pg.max_id),
            after=await _home_cursor(state, pg.newer_than),
            oldest_first=pg.oldest_first,
            limit=pg.limit,
        )
        allowed = {n.id for n in await lookup.visible(state, me, [i.note for i in items])}
        muted = (await relations.hidden(state, me)).from_timelines
        kept = [
            i
            for i in items
            if i.note.id in allowed and i.note.actor_id not in muted and i.boosted_by not in muted
        ]
        # Cursors from the whole page, so that a page thinned by mutes still links onward.
        cursors = [str(REBLOG_ID_BASE - i.key if i.boosted_by else i.note.id) for i in items]
        build = Builder(state, me)
        plain = {d["id"]: d for d in await build.statuses([i.note for i in kept])}
        boosters = await actors.by_ids(state.db, [i.boosted_by for i in kept if i.boosted_by])
        docs: list[dict[str, Any]] = []
        for item in kept:
            if item.boosted_by is None:
                if str(item.note.id) in plain:
                    docs.append(plain[str(item.note.id)])
                continue
            booster = boosters.get(item.boosted_by)
            if booster is not None:
                announce = Announce(-item.key, booster.id, item.note.id, item.at)
                docs.append(await build.reblog(announce, item.note, booster))
        return params.paged(state, docs, pg.limit, cursors)

    @bp.get("/api/v1/timelines/public")
    async def public() -> Response:
        state = holder.state
        viewer = viewer_of(await optional(state))
        p = dict(request.args)
        pg = params.page()
        local: bool | None = None
        if params.flag(p, "local"):
            local = True
        elif params.flag(p, "remote"):
            local = False
        items = await client_api.public_notes(
            state.db,
            pg.window(),
            local=local,
            only_media=params.flag(p, "only_media"),
        )
        muted = (await relations.hidden(state, viewer)).from_timelines
        cursors = [str(n.id) for n in items]
        docs = await Builder(state, viewer).statuses([n for n in items if n.actor_id not in muted])
        return params.paged(state, docs, pg.limit, cursors)
