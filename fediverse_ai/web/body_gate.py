"""Request bodies from visitors without a session are refused before a byte of them is read.

Quart starts buffering a request's body as soon as the request arrives, in a task of its own,
up to ``MAX_CONTENT_LENGTH`` (42 MB, four images and the form around them), and the CSRF check
needs the parsed form. So anybody could make the server hold 42 MB per connection just by
POSTing to an upload route. The forms a visitor without a session (or a client API bearer
token) may send (login, remote follow, OAuth) are tiny, so :class:`AnonymousBodyGate`, in
front of Quart, looks at the headers alone: a body that declares more than
:data:`ANON_BODY_MAX` bytes, or declares no length at all (chunked), from a request without a
live session or token, never reaches Quart's buffer. Quart still answers the request
(``auth.load_viewer`` raises the error, so a browser gets the usual error page; the client API
answers 413); it just sees an empty body.

A body that declares its length cannot be longer: the HTTP parser enforces Content-Length.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from werkzeug.http import parse_cookie

from ..storage import oauth, sessions
from .common import SESSION_COOKIE, StateHolder

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
ASGIApp = Callable[..., Awaitable[None]]

#: The most a request without a session may send: a login form is a few hundred bytes.
ANON_BODY_MAX = 16 * 1024
#: Set in the scope of a request whose body was not read: "too large" or "no length".
REFUSED_KEY = "fediverse_ai.body_refused"
_BODILESS = frozenset({"GET", "HEAD", "OPTIONS"})


def size_problem(headers: list[tuple[bytes, bytes]]) -> str | None:
    """Why an anonymous body with these headers may not be read, or None when it may."""
    length: int | None = None
    for name, value in headers:
        if name.lower() == b"transfer-encoding" and value.strip().lower() != b"identity":
            return "no length"
        if name.lower() == b"content-length":
            try:
                length = int(value)
            except ValueError:
                return "no length"  # the HTTP parser refuses these before we see them
    if length is not None and length > ANON_BODY_MAX:
        return "too large"
    return None


class AnonymousBodyGate:
    """Every request goes on to ``app``; an anonymous one with a body it may not send goes
    on with an empty body and :data:`REFUSED_KEY` in its scope."""

    def __init__(self, app: ASGIApp, holder: StateHolder) -> None:
        self.app = app
        self.holder = holder

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] not in _BODILESS:
            problem = size_problem(scope["headers"])
            # Only a refusal costs a session lookup; small forms and signed-in uploads don't wait.
            if problem is not None and not await self._has_session(scope["headers"]):
                scope = {**scope, REFUSED_KEY: problem}
                receive = _empty_body()
        await self.app(scope, receive, send)

    async def _has_session(self, headers: list[tuple[bytes, bytes]]) -> bool:
        """A live browser session, or a live bearer token of the client API (an app posting
        a long status or, later, media is as known as a signed-in browser)."""
        if not self.holder.ready:
            return False
        state = self.holder.state
        for name, value in headers:
            if name.lower() == b"authorization" and value[:7].lower() == b"bearer ":
                raw = value[7:].decode("latin-1").strip()
                token = await oauth.token_by_access(state.db, raw) if len(raw) < 200 else None
                return token is not None and oauth.is_live(token, now=state.now())
        cookie = "; ".join(v.decode("latin-1") for k, v in headers if k.lower() == b"cookie")
        session_token = parse_cookie(cookie).get(SESSION_COOKIE)
        if not session_token:
            return False
        found = await sessions.get(state.db, sessions.token_hash(session_token), now=state.now())
        return found is not None


def _empty_body() -> Receive:
    """An ASGI ``receive`` that gives an empty body and then nothing: the real one is never
    called, so the client's bytes stay in the server's socket (uvicorn discards them once the
    response is sent)."""
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await asyncio.Event().wait()  # until Quart cancels its reader after the response
        raise AssertionError("unreachable")

    return receive
