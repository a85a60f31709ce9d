"""Issue 13's four crash paths, through the TLS front as an attacker would try them.

Given our instance behind nginx and a signed stand-in peer, when the peer sends what broke
the inbox (JSON nested ten thousand deep, a lone surrogate, a body over the cap, a key whose
actor document is huge), then each gets its honest answer and nothing is left to crash later.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest
from support.remote import PUBLIC

from .peers import Front, front, peers, settled
from .test_federation_e2e import note_on

pytestmark = pytest.mark.e2e
__all__ = ["front"]  # the module's fixture

MAX_INBOX_BYTES = 1_048_576


async def test_json_nested_ten_thousand_deep_is_a_400(front: Front) -> None:
    async with peers(front) as (evil, _victim):
        like = evil.activity("mallory", "Like", f"{front.instance.base_url}/notes/none")
        like["deep"] = "@"  # replaced by the nesting below, inside a real activity
        body = json.dumps(like).replace('"@"', "[" * 10_000 + "]" * 10_000).encode()
        headers = evil.signed_headers(front.inbox, body, username="mallory")

        response = await evil.post_raw(front.inbox, body, headers)

        assert response.status_code == 400, response.text
        assert "nested too deeply" in response.json()["error"]


async def test_a_lone_surrogate_is_stored_as_a_replacement_character(front: Front) -> None:
    a = front.instance
    async with peers(front) as (evil, _victim):
        note = evil.note("mallory", "<p>caf\ud800e</p>", summary="cw \udfff")
        create = evil.activity("mallory", "Create", note, to=[PUBLIC])
        # json.dumps writes the surrogates as \ud800 escapes: valid JSON, invalid Unicode.
        assert "\\ud800" in json.dumps(create)

        assert (await evil.send(front.inbox, create)).status_code == 202
        job = await settled(a, create["id"])

        assert job["state"] == "done", job
        stored = note_on(a, note["id"])
        assert stored is not None
        assert stored["content"] == "<p>caf\ufffde</p>"
        assert stored["summary"] == "cw \ufffd"


async def test_a_body_over_the_cap_gets_413_every_time_never_502(front: Front) -> None:
    async with peers(front) as (evil, _victim):
        like = evil.activity("mallory", "Like", f"{front.instance.base_url}/notes/none")
        like["padding"] = "x" * 3_500_000
        body = json.dumps(like).encode()
        assert len(body) > MAX_INBOX_BYTES
        headers = evil.signed_headers(front.inbox, body, username="mallory")

        async def slowly() -> AsyncIterator[bytes]:
            # A sender on a slow link: the proxy is still passing the body on when the
            # answer comes, which is when a reset turned the 413 into nginx's 502.
            for start in range(0, len(body), 65_536):
                yield body[start : start + 65_536]
                await asyncio.sleep(0.01)

        headers["Content-Length"] = str(len(body))
        statuses = [
            (await evil.post_raw(front.inbox, slowly(), headers)).status_code for _ in range(5)
        ]
        assert statuses == [413] * 5


async def test_a_key_whose_actor_document_is_huge_gets_401_not_413(front: Front) -> None:
    async with peers(front) as (evil, _victim):
        document = evil.actor_document("alice")
        document["summary"] = "<p>" + "x" * 5_000_000 + "</p>"
        evil.overrides["/users/alice"] = document
        like = evil.activity("alice", "Like", f"{front.instance.base_url}/notes/none")

        response = await evil.send(front.inbox, like)

        assert response.status_code == 401, response.text
        assert response.json()["error"] == "could not fetch the signing key"
