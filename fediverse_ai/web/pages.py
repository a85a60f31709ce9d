"""Minimal server-rendered HTML: home, profile, post (the full web UI is its own work)."""

from __future__ import annotations

from typing import Any

from quart import Quart, Response, render_template

from ..models import Actor, Note
from ..state import State
from ..storage import actors, media, notes
from .common import StateHolder

FEED_SIZE = 20


async def _cards(state: State, items: list[Note]) -> list[dict[str, Any]]:
    attached = await media.for_notes(state.db, [n.id for n in items])
    cards = []
    for n in items:
        author = await actors.by_id(state.db, n.actor_id)
        cards.append({"note": n, "author": author, "media": attached.get(n.id, [])})
    return cards


async def render_profile(state: State, actor: Actor) -> Response:
    items = await notes.by_actor(
        state.db, actor.id, visibilities=("public",), before=None, limit=FEED_SIZE
    )
    html = await render_template(
        "profile.html",
        instance=state.config.instance,
        actor=actor,
        handle=f"@{actor.username}@{state.config.instance.host}",
        cards=await _cards(state, items),
        alternate=actor.uri,
    )
    return _html(html)


async def render_note_page(state: State, note: Note, author: Actor) -> Response:
    replies = await notes.replies_to(state.db, note.uri, public_only=True)
    parent = await notes.by_uri(state.db, note.in_reply_to_uri) if note.in_reply_to_uri else None
    html = await render_template(
        "note.html",
        instance=state.config.instance,
        card=(await _cards(state, [note]))[0],
        parent=(await _cards(state, [parent]))[0]
        if parent and parent.visibility in ("public", "unlisted")
        else None,
        replies=await _cards(state, replies),
        alternate=note.uri,
    )
    return _html(html)


def _html(body: str) -> Response:
    resp = Response(body, content_type="text/html; charset=utf-8")
    resp.headers["Vary"] = "Accept"
    return resp


def register(app: Quart, holder: StateHolder) -> None:
    @app.get("/")
    async def home() -> Response:
        state = holder.state
        items = await notes.local_timeline(state.db, before=None, limit=FEED_SIZE)
        ai = await actors.account_by_role(state.db, "ai")
        html = await render_template(
            "index.html",
            instance=state.config.instance,
            cards=await _cards(state, items),
            ai=ai.actor if ai else None,
            ai_handle=f"@{ai.actor.username}@{state.config.instance.host}" if ai else "",
            alternate=None,
        )
        return _html(html)

    @app.get("/about")
    async def about() -> Response:
        return await home()

    @app.after_request
    async def security_headers(resp: Response) -> Response:
        resp.headers.setdefault("X-Content-Type-Options", "nosniff")
        if resp.content_type and resp.content_type.startswith("text/html"):
            resp.headers.setdefault(
                "Content-Security-Policy",
                "default-src 'self'; img-src 'self' https: data:; style-src 'self' 'unsafe-inline';"
                " script-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
            )
            resp.headers.setdefault("Referrer-Policy", "same-origin")
        return resp
