"""create_app(config): the Quart application, with State opened while serving."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator
from pathlib import Path

from quart import Quart, Response, request
from werkzeug.exceptions import HTTPException

from ..config import Config
from ..errors import FediverseError
from ..state import open_state
from . import inbox, objects, pages, wellknown
from .common import StateHolder, json_response, wants_as2

log = logging.getLogger(__name__)
TEMPLATES = Path(__file__).resolve().parents[2] / "templates"


def create_app(config: Config, *, embedded_worker: bool | None = None) -> Quart:
    """Build the app; nothing is opened until the server starts serving."""
    app = Quart(__name__, template_folder=str(TEMPLATES), static_folder=None)
    app.config["MAX_CONTENT_LENGTH"] = 32 * 1024 * 1024
    holder = StateHolder(config)
    wakers: list[object] = []
    run_worker = config.server.embedded_worker if embedded_worker is None else embedded_worker

    @app.while_serving
    async def lifespan() -> AsyncGenerator[None, None]:
        from ..worker import Worker  # the worker imports federation code; keep app import light

        async with open_state(config) as state:
            holder.set(state)
            stop = asyncio.Event()
            task = None
            if run_worker:
                worker = Worker(state)
                wakers.append(worker.wake)
                task = asyncio.create_task(worker.run(stop))
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
        return _error(exc.status, exc.message)

    @app.errorhandler(HTTPException)
    async def http_error(exc: HTTPException) -> Response:
        return _error(exc.code or 500, exc.description or exc.name)

    wellknown.register(app, holder)
    inbox.register(app, holder, wakers)
    objects.register(app, holder)
    pages.register(app, holder)
    return app


def _error(status: int, message: str) -> Response:
    if wants_as2(request) or request.method == "POST" or request.path.startswith("/.well-known"):
        return json_response({"error": message}, status=status)
    return Response(message, status=status, content_type="text/plain; charset=utf-8")
