"""Bookmarks, pins and the favourites list: ``POST /api/v1/statuses/:id/bookmark`` (and
``unbookmark``, ``pin``, ``unpin``), ``GET /api/v1/bookmarks``, ``GET /api/v1/favourites``.

Bookmarks are private: nothing is sent. Pins are public: they are listed by
``/api/v1/accounts/:id/statuses?pinned=true`` and the actor's ``featured`` collection, which
Mastodon reads to show them on the profile; as Mastodon does, we send no activity when a pin
changes (peers re-read the collection when they refresh the actor)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from quart import Blueprint, Response

from ..models import Actor, Note
from ..state import State
from ..storage import saved
from ..storage.client_api import IdWindow
from ..storage.db import Database
from ..storage.saved import MAX_PINS
from ..web.common import StateHolder, json_response
from . import lookup, params
from .entities import Builder
from .errors import Invalid
from .tokens import user

#: The actions on a status this module answers, with the scope each needs.
ACTIONS = {
    "bookmark": "write:bookmarks",
    "unbookmark": "write:bookmarks",
    "pin": "write:accounts",
    "unpin": "write:accounts",
}


Query = Callable[[Database, int, IdWindow], Awaitable[list[tuple[int, Note]]]]
#: The lists of statuses a user kept, with the scope each needs.
_LISTS: dict[str, tuple[str, Query]] = {
    "bookmarks": ("read:bookmarks", saved.bookmarks),
    "favourites": ("read:favourites", saved.favourites),
}


async def keep(state: State, status_id: str, action: str) -> Response:
    """One of :data:`ACTIONS` on a status (``statuses.status_action`` routes them here)."""
    account, _ = await user(state, ACTIONS[action])
    me = account.actor
    note, announce = await lookup.status(state, me, status_id)
    if action == "bookmark":
        await saved.bookmark(state.db, me.id, note.id, now=state.now())
    elif action == "unbookmark":
        await saved.unbookmark(state.db, me.id, note.id)
    elif action == "unpin":
        await saved.unpin(state.db, me.id, note.id)
    else:
        if announce is not None or note.actor_id != me.id:
            raise Invalid("only your own statuses can be pinned")
        if note.visibility not in ("public", "unlisted"):
            raise Invalid("only public and unlisted statuses can be pinned")
        if not await saved.pin(state.db, me.id, note.id, now=state.now()):
            raise Invalid(f"at most {MAX_PINS} statuses can be pinned")
    return json_response(await Builder(state, me).status(note))


async def _listed(state: State, me: Actor, rows: list[tuple[int, Note]], limit: int) -> Response:
    """A page of statuses paged by the ids of their bookmarks or likes, as Mastodon pages them."""
    shown = {n.id for n in await lookup.visible(state, me, [n for _, n in rows])}
    docs = await Builder(state, me).statuses([n for _, n in rows if n.id in shown])
    return params.paged(state, docs, limit, [str(i) for i, _ in rows])


def register(bp: Blueprint, holder: StateHolder) -> None:
    def listing(scope: str, query: Query) -> Callable[[], Awaitable[Response]]:
        async def view() -> Response:
            state = holder.state
            account, _ = await user(state, scope)
            pg = params.page()
            rows = await query(state.db, account.actor.id, pg.window())
            return await _listed(state, account.actor, rows, pg.limit)

        return view

    for kind, (scope, query) in _LISTS.items():
        bp.add_url_rule(f"/api/v1/{kind}", f"list_{kind}", listing(scope, query))
