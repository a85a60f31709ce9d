"""Crashes the web fuzzer found in the client API once its routes were added to it."""

from __future__ import annotations

from pathlib import Path

from support.live import live_server

from .support import user_token
from .test_api_errors import api, bearer


async def test_ids_and_cursors_that_are_digits_but_not_ascii(tmp_path: Path) -> None:
    """ "²" is a digit to ``str.isdigit`` and not to ``int``: the ids and cursors that carry
    it name nothing (404) or are ignored, never a 500."""
    async with live_server(tmp_path) as server:
        _, token = await user_token(server)
        async with api(server) as http:
            for path in ("/api/v1/statuses/²", "/api/v1/accounts/١٢/statuses"):
                answer = await http.get(path, headers=bearer(token))
                assert answer.status_code == 404, (path, answer.text)
            for query in ("max_id=²", "since_id=①", "min_id=٣", "limit=²"):
                answer = await http.get(f"/api/v1/timelines/public?{query}", headers=bearer(token))
                assert answer.status_code == 200, (query, answer.text)
