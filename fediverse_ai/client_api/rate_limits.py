"""Mastodon's rate limit on the client API: so many requests per token (per client address
without one) in each 5-minute window, told in ``X-RateLimit-Limit``, ``-Remaining`` and
``-Reset`` on every answer, and ``429 Too many requests`` beyond it.

The counts are in the database (``storage/shared_limits.py``): every web process behind the
same load balancer counts against one limit, as Mastodon's Redis counters do. That costs one
write per API call (BENCHMARKS.md gives the price); windows are aligned on the clock, and
the retention purge drops the ended ones.
"""

from __future__ import annotations

import hashlib

from quart import Blueprint, Response, g, request

from ..storage import shared_limits
from ..web.auth import client_address
from ..web.common import StateHolder
from .errors import error_response
from .times import iso
from .tokens import bearer

WINDOW_SECONDS = shared_limits.API_WINDOW_SECONDS
# A longer key is a client's invention (addresses and token hashes are short): cut it, so
# that no request stores more than this.
MAX_KEY_CHARS = 80


def _key(holder: StateHolder) -> str:
    token = bearer()
    if token is not None:
        # The token itself is not stored as the key: a database dump should not hand them out.
        return "token:" + hashlib.sha256(token.encode()).hexdigest()[:32]
    return ("addr:" + client_address(holder.state))[:MAX_KEY_CHARS]


def register(bp: Blueprint, holder: StateHolder) -> None:
    @bp.before_request
    async def count_request() -> Response | None:
        state = holder.state
        limit = state.config.web.api_requests_per_five_minutes
        if limit <= 0 or not request.path.startswith("/api/") or request.method == "OPTIONS":
            return None
        count = await shared_limits.hit(state.db, _key(holder), now=state.now())
        g.rate_limit = (limit, max(0, limit - count.hits), count.resets_at)
        if count.hits > limit:
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
