"""The inbox routes, personal and shared: thin by design (STYLE.md §1).

Size cap -> JSON -> blocked domain -> signature -> origin -> store unique -> enqueue -> 202.
No remote fetch happens here except the signer's key.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from functools import partial

from quart import Quart, Response, request

from ..as2_in import parse_activity
from ..errors import BadRequest, Forbidden, NotFound, PayloadTooLarge, SignatureError
from ..federation import inbox as inbox_work
from ..federation import resolver
from ..federation.origin import check_activity_origin
from ..httpsig import verify_request
from ..netguard import is_blocked_domain
from ..state import State
from ..storage import activities, actors
from ..vocab import host_of, strip_fragment
from .common import StateHolder, external_url


def register(app: Quart, holder: StateHolder, on_enqueue: list[object]) -> None:
    @app.post("/inbox")
    async def shared_inbox() -> Response:
        return await receive(holder.state, on_enqueue)

    @app.post("/users/<username>/inbox")
    async def user_inbox(username: str) -> Response:
        state = holder.state
        if await actors.local_by_username(state.db, username) is None:
            raise NotFound("no such actor")
        return await receive(state, on_enqueue)

    @app.post("/actor/inbox")
    async def instance_inbox() -> Response:
        return await receive(holder.state, on_enqueue)


async def _read_capped(cap: int) -> bytes:
    declared = request.content_length
    if declared is not None and declared > cap:
        raise PayloadTooLarge(f"inbox bodies are limited to {cap} bytes")
    chunks, size = [], 0
    async for chunk in request.body:
        size += len(chunk)
        if size > cap:
            raise PayloadTooLarge(f"inbox bodies are limited to {cap} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def receive(state: State, on_enqueue: list[object]) -> Response:
    fed = state.config.federation
    body = await _read_capped(fed.max_inbox_bytes)
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise BadRequest("body is not valid JSON") from None
    act = parse_activity(doc)
    blocked = await state.blocked_domains()
    actor_host = (host_of(act.actor) or "").split(":")[0]
    if not actor_host:
        raise BadRequest("actor must be an http(s) URL")
    if is_blocked_domain(actor_host, blocked):
        raise Forbidden("this domain is blocked here")
    is_self_delete = act.type == "Delete" and act.object_id == act.actor
    if is_self_delete and await actors.by_uri(state.db, act.actor) is None:
        # An unknown actor deleting itself: nothing to do, and its key is gone anyway.
        return Response("", status=202)
    headers = list(request.headers.items())
    if state.config.server.trusted_proxy and "X-Forwarded-Host" in request.headers:
        forwarded = request.headers["X-Forwarded-Host"].split(",")[0].strip()
        headers = [(k, v) for k, v in headers if k.lower() != "host"] + [("Host", forwarded)]
    verified = await verify_request(
        request.method,
        external_url(request, state.config),
        headers,
        body,
        fetch_key=partial(resolver.fetch_key, state),
        now=datetime.fromtimestamp(state.now(), UTC),
        max_skew=timedelta(seconds=fed.signature_max_skew_seconds),
    )
    if strip_fragment(verified.owner) != act.actor:
        raise SignatureError("the signing key does not belong to the activity's actor")
    check_activity_origin(act)
    now = state.now()
    stored = await activities.record_and_enqueue(
        state.db,
        uri=act.id,
        type=act.type,
        actor_uri=act.actor,
        object_uri=act.object_id,
        raw=doc,
        now=now,
        job_kind=inbox_work.INBOX,
        job_payload={"uri": act.id},
        dedupe_key=f"inbox:{act.id}",
    )
    if stored:
        for wake in on_enqueue:
            if callable(wake):
                wake()
    return Response("", status=202)
