"""Buttons on posts and profiles: like, boost, delete, follow, unfollow, answer requests.

Each is a small POST form (CSRF-checked in auth.py) that redirects back where it came from, so
everything works without JavaScript.
"""

from __future__ import annotations

from quart import Quart, Response, request

from ..errors import BadRequest, NotFound
from ..federation import interactions, note_changes, resolver
from ..models import Actor, Note
from ..state import State
from ..storage import actors, notes, timelines
from .auth import require_login, safe_next, viewer
from .common import StateHolder, see_other, visitor_lookup, with_notice

NOTE_ACTIONS = {
    "like": interactions.like,
    "unlike": interactions.unlike,
    "boost": interactions.boost,
    "unboost": interactions.unboost,
}


def register(app: Quart, holder: StateHolder) -> None:
    @app.post("/notes/<int:note_id>/<action>")
    async def note_action(note_id: int, action: str) -> Response:
        state = holder.state
        account = require_login()
        note = await visible_note(state, note_id)
        form = await request.form
        back = safe_next(form.get("next"), f"/notes/{note_id}")
        if action == "delete":
            if note.actor_id != account.actor.id:
                raise NotFound("no such post of yours")
            await note_changes.delete_note(state, account, note.uri)
            back = safe_next(form.get("next"), "/home")
            own_page = note.url.removeprefix(state.config.instance.base_url) if note.url else ""
            if back.split("?")[0] in (f"/notes/{note_id}", own_page):
                back = "/home"
            return see_other(with_notice(back, "deleted"), 303)
        handler = NOTE_ACTIONS.get(action)
        if handler is None:
            raise NotFound("no such action")
        await handler(state, account, note.uri)
        return see_other(back, 303)

    @app.post("/follow")
    async def follow() -> Response:
        state = holder.state
        account = require_login()
        form = await request.form
        with visitor_lookup():
            target = await resolver.resolve_handle(state, form.get("target", "").strip())
        if target.id == account.actor.id:
            raise BadRequest("you cannot follow yourself")
        op = form.get("op", "follow")
        if op == "unfollow":
            await interactions.unfollow(state, account, target)
        else:
            await interactions.follow(state, account, target)
        return see_other(safe_next(form.get("next"), _profile_path(target)), 303)

    @app.post("/requests/<int:actor_id>/<answer>")
    async def answer_request(actor_id: int, answer: str) -> Response:
        state = holder.state
        account = require_login()
        requester = await actors.by_id(state.db, actor_id)
        if requester is None or answer not in ("approve", "reject"):
            raise NotFound("no such follow request")
        await interactions.answer_follow_request(
            state, account, requester, approve=answer == "approve"
        )
        return see_other("/notifications", 303)


async def visible_note(state: State, note_id: int) -> Note:
    """The post a button acts on, when the viewer may see it (else 404, as for no post)."""
    note = await notes.by_id(state.db, note_id)
    v = viewer()
    if note is None or not await timelines.viewer_can_see(state.db, note, v.actor_id, v.actor_uri):
        raise NotFound("no such post")
    return note


def _profile_path(actor: Actor) -> str:
    return f"/@{actor.username}" if actor.local else f"/@{actor.username}@{actor.domain}"
