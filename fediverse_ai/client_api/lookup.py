"""Ids in API paths to records, with Mastodon's 404 for anything unknown or not visible."""

from __future__ import annotations

from ..models import Actor, Note
from ..state import State
from ..storage import account_data, actors, client_api, notes, timelines
from ..storage.client_api import REBLOG_ID_BASE, Announce
from .errors import RecordNotFound
from .params import object_id


async def account(state: State, raw: str) -> Actor:
    actor_id = object_id(raw)
    found = await actors.by_id(state.db, actor_id) if actor_id is not None else None
    if found is None or (found.type == "Application" and found.local):
        raise RecordNotFound()
    if found.local and await account_data.deleted_at(state.db, found.id) is not None:
        raise RecordNotFound()  # deleted, and gone from the API at once as from the web
    return found


async def status(state: State, viewer: Actor | None, raw: str) -> tuple[Note, Announce | None]:
    """The note behind a status id (a reblog's id gives its original and the announce); a
    note the viewer may not see is as unknown as one that does not exist."""
    number = object_id(raw)
    if number is None:
        raise RecordNotFound()
    announce = None
    if number >= REBLOG_ID_BASE:
        announce = await client_api.announce_by_id(state.db, number - REBLOG_ID_BASE)
        if announce is None:
            raise RecordNotFound()
        number = announce.note_id
    note = await notes.by_id(state.db, number)
    if note is None or not await timelines.viewer_can_see(
        state.db, note, viewer.id if viewer else None, viewer.uri if viewer else None
    ):
        raise RecordNotFound()
    return note, announce


async def visible(state: State, viewer: Actor | None, items: list[Note]) -> list[Note]:
    allowed = await timelines.visible_note_ids(
        state.db,
        [n.id for n in items],
        viewer.id if viewer else None,
        viewer.uri if viewer else None,
    )
    return [n for n in items if n.id in allowed]
