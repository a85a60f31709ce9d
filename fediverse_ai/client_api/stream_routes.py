"""The streaming endpoints: ``/api/v1/streaming`` as a WebSocket (one stream from the query,
more by ``subscribe`` messages, as masto.js does), the server-sent-events paths
(``/api/v1/streaming/user`` …) with a ``:thump`` heartbeat, and ``/api/v1/streaming/health``.

The token comes from ``Authorization: Bearer``, the ``access_token`` query parameter (browsers
cannot set headers on a WebSocket or an EventSource) or, for WebSockets, the
``Sec-WebSocket-Protocol`` header, which is then echoed back as Mastodon does.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

from quart import Blueprint, Response, request, websocket

from ..state import State
from ..streams import Subscription
from ..web.common import StateHolder, json_response
from .errors import ApiError, Unauthorized, WrongScope
from .streaming import STREAMS, Channel, Viewer, channel
from .tokens import Grant, check_token

#: Seconds between SSE heartbeats: below the 60 s idle timeout of common reverse proxies.
HEARTBEAT_SECONDS = 20.0
MAX_CHANNELS = 50
MAX_CLIENT_MESSAGE = 4096
_SSE_PATHS = {
    "user": "user",
    "user/notification": "user:notification",
    "public": "public",
    "public/local": "public:local",
    "public/remote": "public:remote",
    "hashtag": "hashtag",
    "hashtag/local": "hashtag:local",
}


def _token(headers: Any, args: Any, protocols: list[str] | None = None) -> tuple[str | None, bool]:
    """The raw token and whether it came as the WebSocket subprotocol (the only one offered)."""
    kind, _, value = headers.get("Authorization", "").partition(" ")
    if kind.lower() == "bearer" and value.strip():
        return value.strip(), False
    if args.get("access_token"):
        return str(args.get("access_token")), False
    if protocols and len(protocols) == 1 and protocols[0].strip():
        return protocols[0].strip(), True
    return None, False


async def _grant(state: State, raw: str | None) -> Grant:
    """A user's token that may read statuses or notifications (every stream needs one)."""
    if raw is None:
        raise Unauthorized("Missing access token")
    grant = await check_token(state, raw)
    if grant.account is None:
        raise ApiError(422, "This method requires an authenticated user")
    if not any(grant.allows(s) for s in set(STREAMS.values())):
        raise WrongScope()
    return grant


def _allowed(grant: Grant, ch: Channel) -> bool:
    return grant.allows(STREAMS[ch.stream])


async def _sse(
    state: State, viewer: Viewer, ch: Channel, sub: Subscription
) -> AsyncIterator[bytes]:
    try:
        yield b":)\n"
        while True:
            event = await sub.next(HEARTBEAT_SECONDS)
            if event is None:
                return
            if event == "idle":
                yield b":thump\n"
                continue
            for message in await viewer.messages({ch}, event):
                yield message.sse()
    finally:
        sub.close()


async def _ws_reader(grant: Grant, channels: set[Channel]) -> None:
    """Mastodon's client messages: ``{"type": "subscribe"|"unsubscribe", "stream", "tag"}``."""
    while True:
        raw = await websocket.receive()
        if isinstance(raw, bytes) or len(raw) > MAX_CLIENT_MESSAGE:
            continue
        try:
            msg = json.loads(raw)
        except ValueError:
            continue
        if not isinstance(msg, dict) or not isinstance(msg.get("stream"), str):
            continue
        tag = msg.get("tag") if isinstance(msg.get("tag"), str) else None
        ch = channel(msg["stream"], tag)
        if isinstance(ch, str) or not _allowed(grant, ch):
            error = ch if isinstance(ch, str) else "Access token does not have the required scopes"
            await websocket.send(json.dumps({"error": error, "status": 400}))
        elif msg.get("type") == "subscribe" and len(channels) < MAX_CHANNELS:
            channels.add(ch)
        elif msg.get("type") == "unsubscribe":
            channels.discard(ch)


async def _ws_writer(viewer: Viewer, channels: set[Channel], sub: Subscription) -> None:
    while True:
        event = await sub.next()
        if event is None:
            return
        if event == "idle":
            continue
        for message in await viewer.messages(set(channels), event):
            await websocket.send(message.websocket())


def register(bp: Blueprint, holder: StateHolder) -> None:
    @bp.get("/api/v1/streaming/health")
    async def streaming_health() -> Response:
        return Response("OK", mimetype="text/plain")

    @bp.get("/api/v1/streaming/<path:path>")
    async def streaming_sse(path: str) -> Response:
        state = holder.state
        raw, _ = _token(request.headers, request.args)
        grant = await _grant(state, raw)
        stream = _SSE_PATHS.get(path.strip("/"))
        ch = channel(stream or "", request.args.get("tag"))
        if isinstance(ch, str):
            return json_response({"error": ch}, status=400 if stream else 404)
        if not _allowed(grant, ch):
            raise WrongScope()
        assert grant.account is not None
        viewer = Viewer(state, grant.account.actor)
        sub = state.streams.subscribe()  # before the response: nothing published is missed
        resp = Response(_sse(state, viewer, ch, sub), mimetype="text/event-stream")
        resp.headers["Cache-Control"] = "no-store"
        resp.headers["X-Accel-Buffering"] = "no"  # nginx must not hold events back
        resp.timeout = None  # a stream lasts as long as the client stays
        return resp

    @bp.websocket("/api/v1/streaming")
    @bp.websocket("/api/v1/streaming/")
    async def streaming_ws() -> Response | None:
        state = holder.state
        raw, as_protocol = _token(
            websocket.headers, websocket.args, list(websocket.requested_subprotocols)
        )
        try:
            grant = await _grant(state, raw)
        except ApiError as exc:
            return json_response({"error": exc.message}, status=exc.status)
        channels: set[Channel] = set()
        if websocket.args.get("stream"):
            ch = channel(websocket.args.get("stream", ""), websocket.args.get("tag"))
            if isinstance(ch, str):
                return json_response({"error": ch}, status=400)
            if not _allowed(grant, ch):
                return json_response({"error": WrongScope().message}, status=403)
            channels.add(ch)
        assert grant.account is not None
        sub = state.streams.subscribe()
        try:
            await websocket.accept(subprotocol=raw if as_protocol else None)
            viewer = Viewer(state, grant.account.actor)
            reader = asyncio.ensure_future(_ws_reader(grant, channels))
            writer = asyncio.ensure_future(_ws_writer(viewer, channels, sub))
            try:
                await asyncio.wait({reader, writer}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for task in (reader, writer):
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await task
        finally:
            sub.close()
        return None
