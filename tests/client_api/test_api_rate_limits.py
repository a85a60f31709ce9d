"""Rate-limit headers and the 429 of the client API, read by Mastodon.py (which parses them
into ``ratelimit_remaining`` and raises ``MastodonRatelimitError``), per token and per address."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import pytest
from mastodon import Mastodon, MastodonRatelimitError
from support.live import live_server

from fediverse_ai.client_api.rate_limits import WINDOW_SECONDS

from .support import user_token
from .test_mastodon_py import call

LIMIT = 4


async def test_calls_beyond_the_limit_are_refused_until_the_window_ends(tmp_path: Path) -> None:
    toml = f"[web]\napi_requests_per_five_minutes = {LIMIT}\n"
    left = WINDOW_SECONDS - time.time() % WINDOW_SECONDS
    if left < 60:  # the counters start over at the window's end: not in mid-test
        await asyncio.sleep(left + 0.5)
    async with live_server(tmp_path, extra_toml=toml) as server:
        _, alice_token = await user_token(server, "alice")
        _, bob_token = await user_token(server, "bob")
        alice = Mastodon(
            access_token=alice_token, api_base_url=server.base_url, ratelimit_method="throw"
        )
        for used in range(1, LIMIT + 1):
            await call(alice.account_verify_credentials)
            assert alice.ratelimit_limit == LIMIT
            assert alice.ratelimit_remaining == LIMIT - used
        assert alice.ratelimit_reset > time.time()
        with pytest.raises(MastodonRatelimitError):
            await call(alice.account_verify_credentials)
        async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as http:
            refused = await http.get(
                "/api/v1/timelines/home", headers={"Authorization": f"Bearer {alice_token}"}
            )
            assert refused.status_code == 429
            assert refused.json() == {"error": "Too many requests"}
            assert refused.headers["X-RateLimit-Remaining"] == "0"
            assert refused.headers["X-RateLimit-Reset"].endswith("Z")
            # Another token has its own budget; the pages of the web UI have none of this
            bobs = await http.get(
                "/api/v1/timelines/home", headers={"Authorization": f"Bearer {bob_token}"}
            )
            assert bobs.status_code == 200 and bobs.headers["X-RateLimit-Remaining"] == "3"
            assert "X-RateLimit-Limit" not in (await http.get("/about")).headers
            # Calls without a token count per address (the two app registrations spent two)
            for expected in ("1", "0"):
                anon = await http.get("/api/v1/instance")
                assert anon.status_code == 200 and anon.headers["X-RateLimit-Remaining"] == expected
            assert (await http.get("/api/v1/instance")).status_code == 429
