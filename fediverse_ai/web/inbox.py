"""The inboxes, personal and shared: thin by design (STYLE.md §1), and served ahead of Quart.

Size cap -> JSON -> blocked domain -> signature -> origin -> store unique -> enqueue -> 202.
No remote fetch happens here except the signer's key.

Inbox POSTs are the server's hot path (a busy instance receives far more than it serves
pages), and they use nothing of Quart's: no session, no CSRF, no templates. Quart's request
machinery and hooks were about a sixth of the CPU of each accepted activity (BENCHMARKS.md),
so :class:`InboxApp` answers them as a plain ASGI application in front of Quart, which
serves everything else. Errors are answered as Quart's error handler answers a POST:
``{"error": message}`` with the error's status.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from .. import safe_json
from ..as2_in import parse_activity
from ..errors import (
    BadRequest,
    FediverseError,
    Forbidden,
    Gone,
    NotFound,
    PayloadTooLarge,
    SignatureError,
)
from ..federation import inbox as inbox_work
from ..federation import signer_keys
from ..federation.origin import check_activity_origin
from ..httpsig import verify_request
from ..netguard import is_blocked_domain
from ..state import State
from ..storage import account_data, activities, actors
from ..vocab import host_of, strip_fragment
from .common import StateHolder
from .signed import as_sent

log = logging.getLogger(__name__)

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
ASGIApp = Callable[..., Awaitable[None]]  # Quart's own ASGI entry, typed with its scope types

_HEADERS = [(b"x-content-type-options", b"nosniff")]
DRAIN_BYTES = 64 * 1024 * 1024
DRAIN_SECONDS = 10.0


class ClientGone(Exception):
    """The client disconnected before its body arrived: nothing to answer."""


class InboxApp:
    """POST /inbox, /actor/inbox and /users/<name>/inbox; every other request goes to ``app``."""

    def __init__(self, app: ASGIApp, holder: StateHolder) -> None:
        self.app = app
        self.holder = holder

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _is_inbox(scope["path"]):
            await self.app(scope, receive, send)
            return
        if scope["method"] != "POST":
            await _answer_error(send, 405, "inboxes take POST only", allow=True)
            return
        try:
            await self._receive(scope, receive)
        except ClientGone:
            return
        except FediverseError as exc:
            if exc.status >= 500:
                log.error("POST %s failed: %s", scope["path"], exc.message)
            self._count(refusal_class(exc))
            await _answer_error(send, exc.status, exc.message)
            return
        except Exception:
            log.exception("POST %s crashed", scope["path"])
            self._count("error")
            await _answer_error(send, 500, FediverseError.default_message)
            return
        self._count("accepted")
        await _answer(send, 202)

    def _count(self, result: str) -> None:
        if self.holder.ready:
            self.holder.state.metrics.inc("inbox", result=result)

    async def _receive(self, scope: Scope, receive: Receive) -> None:
        state = self.holder.state
        path: str = scope["path"]
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]]
        # The body is read before any refusal, for the reason _read_capped gives.
        body = await _read_capped(headers, receive, state.config.federation.max_inbox_bytes)
        if path.startswith("/users/"):
            username = path.split("/")[2]
            if await actors.local_by_username(state.db, username) is None:
                if await account_data.deleted_username(state.db, username):
                    raise Gone("this account was deleted")  # senders stop retrying on 410
                raise NotFound("no such actor")
        url, headers = as_sent(
            scope,
            headers,
            base_url=state.config.instance.base_url,
            trusted_proxy=state.config.server.trusted_proxy,
        )
        await accept(state, url=url, headers=headers, body=body)


def refusal_class(exc: FediverseError) -> str:
    """A bounded label for /metrics: the error's class (SignatureError -> signature)."""
    name = re.sub(r"(?<!^)(?=[A-Z])", "_", type(exc).__name__).lower()
    return name.removesuffix("_error") or "error"


def _is_inbox(path: str) -> bool:
    if path in ("/inbox", "/actor/inbox"):
        return True
    parts = path.split("/")
    return len(parts) == 4 and parts[1] == "users" and bool(parts[2]) and parts[3] == "inbox"


async def _answer(
    send: Send, status: int, body: bytes = b"", ctype: bytes = b"", *, allow: bool = False
) -> None:
    headers = [*_HEADERS, (b"content-length", b"%d" % len(body))]
    if ctype:
        headers.append((b"content-type", ctype))
    if allow:
        headers.append((b"allow", b"POST"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _answer_error(send: Send, status: int, message: str, *, allow: bool = False) -> None:
    body = json.dumps({"error": message}, ensure_ascii=False).encode()
    await _answer(send, status, body, b"application/json", allow=allow)


async def _read_capped(headers: list[tuple[str, str]], receive: Receive, cap: int) -> bytes:
    """The body, or ``PayloadTooLarge`` once it is known to pass ``cap``.

    A body over the cap is still read to its end (and dropped) before the 413 goes out, up
    to :data:`DRAIN_BYTES` in :data:`DRAIN_SECONDS`: answering first and closing with
    unread bytes resets the connection, and a reverse proxy still sending the body then
    reports 502 to the sender instead of our 413 (issue 13).
    """
    declared = next((v for k, v in headers if k == "content-length"), None)
    too_large = declared is not None and declared.strip().isdigit() and int(declared) > cap
    chunks: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(None) as deadline:
            while True:
                if too_large and deadline.when() is None:
                    deadline.reschedule(asyncio.get_running_loop().time() + DRAIN_SECONDS)
                message = await receive()
                if message["type"] == "http.disconnect":
                    raise ClientGone()
                chunk = message.get("body", b"")
                size += len(chunk)
                too_large = too_large or size > cap
                if not too_large:
                    chunks.append(chunk)
                if not message.get("more_body", False) or size > DRAIN_BYTES:
                    break
    except TimeoutError:
        pass  # only a drain has a deadline: the body is too large either way
    if too_large:
        raise PayloadTooLarge(f"inbox bodies are limited to {cap} bytes")
    return b"".join(chunks)


async def accept(state: State, *, url: str, headers: list[tuple[str, str]], body: bytes) -> None:
    """Check and store one POSTed activity; raises a FediverseError to refuse it."""
    fed = state.config.federation
    doc = safe_json.loads(body)
    act = parse_activity(doc)
    blocked = await state.blocked_domains()
    actor_host = (host_of(act.actor) or "").split(":")[0]
    if not actor_host:
        raise BadRequest("actor must be an http(s) URL")
    if is_blocked_domain(actor_host, blocked):
        raise Forbidden("this domain is blocked here")
    if act.actor in await state.suspended_actors():
        raise Forbidden("this account is suspended here")
    is_self_delete = act.type == "Delete" and act.object_id == act.actor
    if is_self_delete and await actors.by_uri(state.db, act.actor) is None:
        # An unknown actor deleting itself: nothing to do, and its key is gone anyway.
        return
    verified = await verify_request(
        "POST",
        url,
        headers,
        body,
        fetch_key=signer_keys.key_fetcher(state, actor_uri=act.actor),
        now=datetime.fromtimestamp(state.now(), UTC),
        max_skew=timedelta(seconds=fed.signature_max_skew_seconds),
    )
    if strip_fragment(verified.owner) != act.actor:
        raise SignatureError("the signing key does not belong to the activity's actor")
    check_activity_origin(act)
    stored = await activities.record_and_enqueue(
        state.db,
        uri=act.id,
        type=act.type,
        actor_uri=act.actor,
        object_uri=act.object_id,
        raw=doc,
        now=state.now(),
        job_kind=inbox_work.INBOX,
        job_payload={"uri": act.id},
        dedupe_key=f"inbox:{act.id}",
    )
    if stored:
        state.work_queued()
