"""create_app(config): the Quart application, with State opened while serving.

The composition of the two wings that answer HTTP: the web UI and federation (``web``) and the
Mastodon client API (``client_api``), which builds on ``web``'s sessions and helpers; so this
module stands above both."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator
from pathlib import Path
from typing import Any
from urllib.parse import quote

from quart import Quart, Response, request
from werkzeug.exceptions import HTTPException
from werkzeug.routing import IntegerConverter

from .client_api import blueprint as client_api_blueprint
from .config import Config
from .errors import FediverseError, LoginRequired
from .state import open_state
from .web import (
    account_settings,
    actions,
    admin,
    admin_accounts,
    admin_ai,
    admin_flags,
    admin_reports,
    auth,
    body_gate,
    cache_files,
    compose,
    emoji_routes,
    foryou,
    health,
    inbox,
    me,
    objects,
    pages,
    polls,
    quotes,
    relations,
    remote_follow,
    signup,
    userdata,
    wellknown,
)
from .web.common import StateHolder, json_response, see_other, wants_as2

log = logging.getLogger(__name__)


class SqliteIntConverter(IntegerConverter):
    """``<int:...>`` limited to what SQLite's INTEGER holds: ids in paths are looked up there,
    and a longer number raised OverflowError (a 500) instead of finding nothing (a 404)."""

    def __init__(self, url_map: Any, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", 2**63 - 1)
        super().__init__(url_map, *args, **kwargs)


TEMPLATES = Path(__file__).resolve().parents[1] / "templates"


def create_app(config: Config, *, embedded_worker: bool | None = None) -> Quart:
    """Build the app; nothing is opened until the server starts serving. The inboxes are
    answered ahead of Quart (:class:`~fediverse_ai.web.inbox.InboxApp`), wrapped around
    Quart's ASGI entry so that the returned object is still the Quart app."""
    app = Quart(__name__, template_folder=str(TEMPLATES), static_folder=None)
    app.url_map.converters["int"] = SqliteIntConverter
    # Four 10 MB images and the form around them (the inbox caps its own bodies far lower).
    app.config["MAX_CONTENT_LENGTH"] = 42 * 1024 * 1024
    holder = StateHolder(config)
    # Tests that drive the worker from a State of their own publish into this one's streams.
    app.extensions["fediverse_ai.holder"] = holder
    run_worker = config.server.embedded_worker if embedded_worker is None else embedded_worker

    @app.while_serving
    async def lifespan() -> AsyncGenerator[None, None]:
        from .worker import Worker  # the worker imports federation code; keep app import light

        async with open_state(config) as state:
            holder.set(state)
            stop = asyncio.Event()
            task = None
            if run_worker:
                task = asyncio.create_task(Worker(state).run(stop))
            try:
                yield
            finally:
                stop.set()
                if task is not None:
                    await task
                holder.set(None)

    @app.errorhandler(FediverseError)
    async def fediverse_error(exc: FediverseError) -> Response:
        if exc.status >= 500:
            log.error("%s %s failed: %s", request.method, request.path, exc.message)
        if isinstance(exc, LoginRequired) and request.method == "GET" and _is_browser():
            return see_other(f"/login?next={quote(request.full_path.rstrip('?'), safe='/?=&')}")
        return await _error(holder, exc.status, exc.message)

    @app.errorhandler(HTTPException)
    async def http_error(exc: HTTPException) -> Response:
        return await _error(holder, exc.code or 500, exc.description or exc.name)

    wellknown.register(app, holder)
    health.register(app, holder, embedded_worker=run_worker)
    # Quart's documented place for ASGI middleware. The inboxes are answered first; every other
    # request passes the body gate, which keeps anonymous uploads out of Quart's buffer.
    app.asgi_app = inbox.InboxApp(  # type: ignore[assignment,method-assign]
        body_gate.AnonymousBodyGate(app.asgi_app, holder), holder
    )
    auth.register(app, holder)
    objects.register(app, holder)
    cache_files.register(app, holder)
    pages.register(app, holder)
    me.register(app, holder)
    compose.register(app, holder)
    actions.register(app, holder)
    polls.register(app, holder)
    quotes.register(app, holder)
    remote_follow.register(app, holder)
    admin.register(app, holder)
    admin_accounts.register(app, holder)
    account_settings.register(app, holder)
    signup.register(app, holder)
    emoji_routes.register(app, holder)
    admin_reports.register(app, holder)
    admin_flags.register(app, holder)
    admin_ai.register(app, holder)
    relations.register(app, holder)
    foryou.register(app, holder)
    userdata.register(app, holder)
    app.register_blueprint(client_api_blueprint(holder))
    return app


def _is_browser() -> bool:
    return "text/html" in request.headers.get("Accept", "") and not wants_as2(request)


async def _error(holder: StateHolder, status: int, message: str) -> Response:
    if _is_browser() and holder.ready:
        try:
            return await pages.render(
                holder.state, "error.html", status=status, code=status, message=message
            )
        except Exception:  # an error page must never fail: fall back to plain text
            log.exception("rendering the error page failed")
    elif wants_as2(request) or request.method == "POST" or request.path.startswith("/.well-known"):
        return json_response({"error": message}, status=status)
    return Response(message, status=status, content_type="text/plain; charset=utf-8")
