"""Following across servers from the browser.

"Follow from your instance": a visitor types their own handle, we look up their server's
OStatus subscribe template by WebFinger and send them there with our actor's URI. The other way
round, ``/authorize_interaction?uri=...`` (which our WebFinger advertises) lets our users follow a
remote account or open a remote post here.
"""

from __future__ import annotations

from quart import Quart, Response, request

from ..errors import BadRequest, FediverseError, TooManyRequests
from ..federation import publish, resolver
from ..models import Actor
from ..storage import notes
from ..storage.ai_replies import take_token
from .auth import client_address, require_login
from .common import StateHolder, see_other, visitor_lookup
from .pages import profile_actor, render
from .views import author_view


def register(app: Quart, holder: StateHolder) -> None:
    @app.get("/@<username>/remote_follow")
    async def remote_follow_form(username: str) -> Response:
        state = holder.state
        actor = await profile_actor(state, username)
        return await render(state, "remote_follow.html", author=author_view(actor), error=None)

    @app.post("/@<username>/remote_follow")
    async def remote_follow(username: str) -> Response:
        state = holder.state
        actor = await profile_actor(state, username)
        handle = (await request.form).get("handle", "").strip()
        try:
            # Each lookup makes us fetch from a server the visitor names: keep it slow.
            allowed = await take_token(
                state.db,
                f"remote_follow:{client_address(state)}",
                capacity=10.0,
                per_second=10 / 600,
                now=state.now(),
            )
            if not allowed:
                raise TooManyRequests("too many lookups; wait a few minutes and try again")
            if handle.lstrip("@").partition("@")[2].lower() in (
                state.config.instance.domain,
                state.config.instance.host,
            ):
                raise BadRequest("that account is on this server: log in and follow from here")
            with visitor_lookup():
                url = await resolver.subscribe_url(state, handle, actor.uri)
        except FediverseError as exc:
            if exc.status >= 500:
                raise
            return await render(
                state,
                "remote_follow.html",
                status=exc.status,
                author=author_view(actor),
                error=exc.message,
                handle=handle,
            )
        return see_other(url, 303)

    @app.get("/authorize_interaction")
    async def authorize_interaction() -> Response:
        state = holder.state
        require_login()
        uri = request.args.get("uri", "").strip().removeprefix("acct:")
        if not uri:
            raise BadRequest("uri parameter required")
        if not uri.startswith(("https://", "http://")):
            with visitor_lookup():
                target = await resolver.resolve_handle(state, uri)
            return see_other(_profile(target), 303)
        existing = await notes.by_uri(state.db, uri)
        if existing is not None:
            return see_other(f"/notes/{existing.id}", 303)
        try:
            target = await resolver.fetch_actor(state, uri)
            return see_other(_profile(target), 303)
        except FediverseError:
            pass
        with visitor_lookup():
            note, _ = await publish.ensure_note(state, uri)
        return see_other(f"/notes/{note.id}", 303)


def _profile(actor: Actor) -> str:
    return author_view(actor).profile_url
