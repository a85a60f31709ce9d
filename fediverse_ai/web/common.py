"""Small helpers shared by the route modules: state access, negotiation, responses."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from quart import Request, Response

from ..config import Config
from ..errors import FediverseError, FetchError, NotFound
from ..state import State

AS2_RESPONSE_TYPE = "application/activity+json"
SESSION_COOKIE = "fa_session"  # read by auth (sessions) and body_gate (before Quart)
_AS2_ACCEPTS = ("application/activity+json", "application/ld+json")


@dataclass
class StateHolder:
    """Filled in when the server starts; route closures read ``state`` from it."""

    config: Config
    _state: State | None = field(default=None)

    @property
    def state(self) -> State:
        if self._state is None:
            raise FediverseError("server is starting")
        return self._state

    @property
    def ready(self) -> bool:
        return self._state is not None

    def set(self, state: State | None) -> None:
        self._state = state


def wants_as2(request: Request) -> bool:
    accept = request.headers.get("Accept", "")
    return any(t in accept for t in _AS2_ACCEPTS)


def as2_response(doc: dict[str, Any], status: int = 200) -> Response:
    return json_response(doc, status=status, content_type=AS2_RESPONSE_TYPE)


def json_response(
    doc: Any, *, status: int = 200, content_type: str = "application/json"
) -> Response:
    resp = Response(json.dumps(doc, ensure_ascii=False), status=status, content_type=content_type)
    resp.headers["Vary"] = "Accept"
    resp.headers["Access-Control-Allow-Origin"] = "*"
    return resp


def page_number(request: Request) -> int | None:
    raw = request.args.get("page")
    if raw is None:
        return None
    if raw == "true":
        return 1
    # isascii(): str.isdigit() is also true for "²", which int() refuses.
    return int(raw) if raw.isascii() and raw.isdigit() and 0 < int(raw) < 100_000 else 1


#: What stays as it is in a Location header: printable ASCII, percent escapes included.
_LOCATION_SAFE = "".join(chr(c) for c in range(0x21, 0x7F))


def see_other(location: str, status: int = 303) -> Response:
    """A redirect typed as Quart's Response (``quart.redirect`` returns Werkzeug's).

    Locations hold names from other servers (a peer's username, its subscribe template), and
    a header goes out as Latin-1 without control characters: the rest is percent-encoded, or
    the HTTP layer refuses the header and drops the connection unanswered.
    """
    resp = Response("", status=status)
    resp.headers["Location"] = quote(location.encode("utf-8", "surrogatepass"), _LOCATION_SAFE)
    return resp


def with_notice(path: str, key: str) -> str:
    """``path`` with ``done=KEY``, the message the next page shows (``pages.NOTICES``)."""
    return f"{path}{'&' if '?' in path else '?'}done={key}"


@contextmanager
def visitor_lookup() -> Iterator[None]:
    """Around a lookup on another server of what a visitor typed (a handle, a URL).

    When that server is down or answers something unusable, the visitor asked for something
    that cannot be found: a 404 that says why, not a 5xx that reads as our own failure (and
    logs an error) to anyone monitoring the server.
    """
    try:
        yield
    except FetchError as exc:
        raise NotFound(f"nothing usable found there: {exc.message}") from None
