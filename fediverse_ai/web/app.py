"""create_app(config): the Quart application, with State opened while serving."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator
from pathlib import Path
from urllib.parse import quote

from quart import Quart, Response, request
from werkzeug.exceptions import HTTPException

from ..client_api import blueprint as client_api_blueprint
from ..config import Config
from ..errors import FediverseError, LoginRequired
from ..state import open_state
from . import (
    actions,
    admin,
    auth,
    body_gate,
    cache_files,
    compose,
    inbox,
    me,
    objects,
    pages,
    remote_follow,
    wellknown,
)
from .common import StateHolder, json_response, see_other, wants_as2

log = logging.getLogger(__name__)
TEMPLATES = Path(__file__).resolve().parents[2] / "templates"


def create_app(config: Config, *, embedded_worker: bool | None = None) -> Quart:
    """Build the app; nothing is opened until the server starts serving. The inboxes are
    answered ahead of Quart (:class:`~fediverse_ai.web.inbox.InboxApp`), wrapped around
    Quart's ASGI entry so that the returned object is still the Quart app."""
    app = Quart(__name__, template_folder=str(TEMPLATES), static_folder=None)
    # Four 10 MB images and the form around them (the inbox caps its own bodies far lower).
    app.config["MAX_CONTENT_LENGTH"] = 42 * 1024 * 1024
    holder = StateHolder(config)
    # Tests that drive the worker from a State of their own publish into this one's streams.
    app.extensions["fediverse_ai.holder"] = holder
    run_worker = config.server.embedded_worker if embedded_worker is None else embedded_worker

    @app.while_serving
    async def lifespan() -> AsyncGenerator[None, None]:
        from ..worker import Worker  # the worker imports federation code; keep app import light

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
    remote_follow.register(app, holder)
    admin.register(app, holder)
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
