"""Mastodon's rate limit on the client API: so many requests per token (per client address
without one) in each 5-minute window, told in ``X-RateLimit-Limit``, ``-Remaining`` and
``-Reset`` on every answer, and ``429 Too many requests`` beyond it.

The counters are in memory, as the streaming broker is: the web server is one process today,
and a counter in the database would cost a write for every read an app makes. Windows are
aligned on the clock, so all counters start over together and the table is dropped whole
at each window's end; its size is capped, and keys beyond the cap share one counter.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field

from quart import Blueprint, Response, g, request

from ..web.auth import client_address
from ..web.common import StateHolder
from .errors import error_response
from .times import iso
from .tokens import bearer

WINDOW_SECONDS = 300.0
MAX_KEYS = 100_000
_OVERFLOW = "overflow"


@dataclass
class Counters:
    """Requests per key in the current window."""

    window: float = -1.0
    counts: dict[str, int] = field(default_factory=dict)

    def hit(self, key: str, now: float) -> tuple[int, float]:
        """Count a request; (how many ``key`` made in this window, when the window ends)."""
        window = math.floor(now / WINDOW_SECONDS) * WINDOW_SECONDS
        if window != self.window:
            self.window, self.counts = window, {}
        if key not in self.counts and len(self.counts) >= MAX_KEYS:
            key = _OVERFLOW
        self.counts[key] = self.counts.get(key, 0) + 1
        return self.counts[key], window + WINDOW_SECONDS


def _key(holder: StateHolder) -> str:
    token = bearer()
    if token is not None:
        # The token itself is no dictionary key: a memory dump should not hand them out.
        return "token:" + hashlib.sha256(token.encode()).hexdigest()[:32]
    return "addr:" + client_address(holder.state)


def register(bp: Blueprint, holder: StateHolder) -> None:
    counters = Counters()

    @bp.before_request
    async def count_request() -> Response | None:
        state = holder.state
        limit = state.config.web.api_requests_per_five_minutes
        if limit <= 0 or not request.path.startswith("/api/") or request.method == "OPTIONS":
            return None
        used, reset = counters.hit(_key(holder), state.now())
        g.rate_limit = (limit, max(0, limit - used), reset)
        if used > limit:
            return error_response(429, "Too many requests")
        return None

    @bp.after_request
    async def rate_headers(resp: Response) -> Response:
        found = g.get("rate_limit")
        if found is not None:
            limit, remaining, reset = found
            resp.headers["X-RateLimit-Limit"] = str(limit)
            resp.headers["X-RateLimit-Remaining"] = str(remaining)
            resp.headers["X-RateLimit-Reset"] = iso(reset) or ""
        return resp
