"""Conversations: ``GET /api/v1/conversations`` (direct messages grouped by thread),
``DELETE /api/v1/conversations/:id`` (hidden until a newer message) and
``POST /api/v1/conversations/:id/read``."""

from __future__ import annotations

from typing import Any

from quart import Blueprint, Response

from ..models import Actor
from ..state import State
from ..storage import actors, client_api, conversations
from ..storage.conversations import Conversation
from ..web.common import StateHolder, json_response
from . import params
from .entities import Builder
from .errors import RecordNotFound
from .tokens import user


async def _entities(state: State, me: Actor, items: list[Conversation]) -> list[dict[str, Any]]:
    """Conversation entities: the other participants (the last message's author and the
    accounts it mentions) and the last message."""
    found = await client_api.notes_by_ids(state.db, [c.last_note_id for c in items])
    mentioned = await client_api.mentions_for(state.db, list(found))
    build = Builder(state, me)
    statuses = {int(d["id"]): d for d in await build.statuses(list(found.values()))}
    out = []
    for c in items:
        note = found.get(c.last_note_id)
        if note is None or note.id not in statuses:
            continue
        by_uri = await client_api.actors_by_uris(state.db, mentioned.get(note.id, []))
        people = {a.id: a for a in by_uri.values()}
        author = await actors.by_id(state.db, note.actor_id)
        if author is not None:
            people[author.id] = author
        people.pop(me.id, None)
        out.append(
            {
                "id": str(c.id),
                "unread": c.unread,
                "accounts": await build.accounts(list(people.values())),
                "last_status": statuses[note.id],
            }
        )
    return out


async def _one(state: State, me: Actor, raw: str) -> Conversation:
    number = params.object_id(raw)
    found = await conversations.one(state.db, me.id, me.uri, number) if number else None
    if found is None:
        raise RecordNotFound()
    return found


def register(bp: Blueprint, holder: StateHolder) -> None:
    @bp.get("/api/v1/conversations")
    @bp.get("/api/v1/conversations/")  # the path Mastodon.py asks for
    async def list_conversations() -> Response:
        state = holder.state
        account, _ = await user(state, "read:statuses")
        me = account.actor
        pg = params.page()
        items = await conversations.page(state.db, me.id, me.uri, pg.window())
        docs = await _entities(state, me, items)
        return params.paged(state, docs, pg.limit, [str(c.last_note_id) for c in items])

    @bp.delete("/api/v1/conversations/<conversation_id>")
    async def hide_conversation(conversation_id: str) -> Response:
        state = holder.state
        account, _ = await user(state, "write:conversations")
        found = await _one(state, account.actor, conversation_id)
        await conversations.mark(state.db, account.actor.id, found, hide=True)
        return json_response({})

    @bp.post("/api/v1/conversations/<conversation_id>/read")
    async def read_conversation(conversation_id: str) -> Response:
        state = holder.state
        account, _ = await user(state, "write:conversations")
        me = account.actor
        found = await _one(state, me, conversation_id)
        await conversations.mark(state.db, me.id, found, hide=False)
        read = await conversations.one(state.db, me.id, me.uri, found.id)
        docs = await _entities(state, me, [read] if read else [])
        if not docs:
            raise RecordNotFound()
        return json_response(docs[0])
