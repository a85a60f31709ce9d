"""The inbox over real HTTP: what it refuses, with which status, and that refusals change nothing.

Given our server (uvicorn on loopback) and a remote peer (a real HTTP server that serves
its actors' keys), when the peer POSTs to our inbox, then bad requests get the status
the interop checklist (§3-§5) asks for with a JSON error, and leave every table as it was;
authentic activities of types we do not handle are accepted and ignored.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from support.keys import generate_rsa_key
from support.live import LiveServer, live_server
from support.remote import PUBLIC, RemoteFediverse, remote_server

MAX_INBOX_BYTES = 1_048_576


def follow_of_ai(remote: RemoteFediverse, live: LiveServer, **extra: Any) -> dict[str, Any]:
    return remote.activity("alice", "Follow", live.ai.actor.uri, **extra)


async def assert_refused(
    live: LiveServer, response: httpx.Response, status: int, reason: str, before: dict[str, int]
) -> None:
    """The status, a JSON error that says why, and not one row changed anywhere."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()["error"]
    assert reason in error, error
    assert await live.counts() == before


# --- signatures (401) ------------------------------------------------------------------------


async def test_unsigned_post_is_refused(live: LiveServer, remote: RemoteFediverse) -> None:
    before = await live.counts()
    body = json.dumps(follow_of_ai(remote, live)).encode()
    response = await remote.post_raw(
        live.shared_inbox, body, {"Content-Type": "application/activity+json"}
    )
    await assert_refused(live, response, 401, "missing signature", before)


async def test_signature_by_another_key_is_refused(
    live: LiveServer, remote: RemoteFediverse
) -> None:
    before = await live.counts()
    body = json.dumps(follow_of_ai(remote, live)).encode()
    forger_key, _ = generate_rsa_key()
    headers = remote.signed_headers(live.shared_inbox, body, private_key_pem=forger_key)
    response = await remote.post_raw(live.shared_inbox, body, headers)
    await assert_refused(live, response, 401, "signature does not match", before)


async def test_a_rotated_key_is_refetched_and_the_old_one_no_longer_verifies(
    live: LiveServer, remote: RemoteFediverse
) -> None:
    # The inbox keeps verified keys in memory: a new key must still be picked up at once.
    first = await remote.send(live.shared_inbox, follow_of_ai(remote, live))
    assert first.status_code == 202
    old = remote.users["alice"]
    new_private, new_public = generate_rsa_key()
    remote.users["alice"] = dataclasses.replace(
        old, private_key_pem=new_private, public_key_pem=new_public
    )
    fetches = len(remote.fetched)
    rotated = await remote.send(live.shared_inbox, remote.activity("alice", "Like", PUBLIC))
    assert rotated.status_code == 202, rotated.text
    assert len(remote.fetched) == fetches + 1  # the key, once
    before = await live.counts()
    body = json.dumps(remote.activity("alice", "Like", PUBLIC)).encode()
    headers = remote.signed_headers(live.shared_inbox, body, private_key_pem=old.private_key_pem)
    stale = await remote.post_raw(live.shared_inbox, body, headers)
    await assert_refused(live, stale, 401, "signature does not match", before)


async def test_stale_date_is_refused(live: LiveServer, remote: RemoteFediverse) -> None:
    before = await live.counts()
    two_hours_ago = datetime.now(UTC) - timedelta(hours=2)
    response = await remote.send(live.shared_inbox, follow_of_ai(remote, live), now=two_hours_ago)
    await assert_refused(live, response, 401, "date outside the accepted window", before)


async def test_body_not_matching_the_signed_digest_is_refused(
    live: LiveServer, remote: RemoteFediverse
) -> None:
    before = await live.counts()
    signed = follow_of_ai(remote, live)
    headers = remote.signed_headers(live.shared_inbox, json.dumps(signed).encode())
    swapped = json.dumps({**signed, "object": live.instance.actor.uri}).encode()
    response = await remote.post_raw(live.shared_inbox, swapped, headers)
    await assert_refused(live, response, 401, "digest mismatch", before)


async def test_key_of_another_actor_is_refused(live: LiveServer, remote: RemoteFediverse) -> None:
    before = await live.counts()
    by_alice = follow_of_ai(remote, live)
    response = await remote.send(live.shared_inbox, by_alice, username="bob")
    await assert_refused(live, response, 401, "does not belong to the activity's actor", before)


# --- origin (403) ----------------------------------------------------------------------------


async def test_create_of_a_note_on_another_host_is_forbidden(
    live: LiveServer, remote: RemoteFediverse
) -> None:
    before = await live.counts()
    note = remote.note("alice", "<p>not mine</p>", note_id="http://127.0.0.9:1/notes/1")
    response = await remote.send(live.shared_inbox, remote.activity("alice", "Create", note))
    await assert_refused(live, response, 403, "object is not on the actor's host", before)


async def test_activity_id_on_another_host_is_forbidden(
    live: LiveServer, remote: RemoteFediverse
) -> None:
    before = await live.counts()
    follow = follow_of_ai(remote, live, activity_id="http://127.0.0.9:1/activities/1")
    response = await remote.send(live.shared_inbox, follow)
    await assert_refused(live, response, 403, "activity id is not on the actor's host", before)


async def test_actor_may_not_update_another_actor(
    live: LiveServer, remote: RemoteFediverse
) -> None:
    before = await live.counts()
    bobs_profile = remote.embedded(remote.actor_document("bob"))
    response = await remote.send(
        live.shared_inbox, remote.activity("alice", "Update", bobs_profile, to=[PUBLIC])
    )
    await assert_refused(live, response, 403, "an actor may only update itself", before)


async def test_actor_on_a_blocked_domain_is_forbidden(tmp_path: Path) -> None:
    """A peer on 127.0.0.2 (still loopback) while our server blocks that domain."""
    async with (
        live_server(tmp_path / "blocking", blocked_domains=("127.0.0.2",)) as live,
        remote_server(host="127.0.0.2") as remote,
    ):
        before = await live.counts()
        response = await remote.send(live.shared_inbox, follow_of_ai(remote, live))
        await assert_refused(live, response, 403, "blocked", before)


# --- size and shape (413, 400, 404) ------------------------------------------------------------


def oversized_follow(remote: RemoteFediverse, live: LiveServer) -> bytes:
    padding = "x" * (MAX_INBOX_BYTES + 1)
    return json.dumps(follow_of_ai(remote, live, summary=padding)).encode()


async def test_oversized_body_with_content_length_is_refused(
    live: LiveServer, remote: RemoteFediverse
) -> None:
    before = await live.counts()
    body = oversized_follow(remote, live)
    response = await remote.post_raw(
        live.shared_inbox, body, remote.signed_headers(live.shared_inbox, body)
    )
    assert int(response.request.headers["content-length"]) > MAX_INBOX_BYTES
    await assert_refused(live, response, 413, "limited to", before)


async def test_oversized_chunked_body_is_refused(live: LiveServer, remote: RemoteFediverse) -> None:
    """No Content-Length to refuse up front: the cap must hold while the body streams in."""
    before = await live.counts()
    body = oversized_follow(remote, live)

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 64 * 1024):
            yield body[start : start + 64 * 1024]

    response = await remote.post_raw(
        live.shared_inbox, chunks(), remote.signed_headers(live.shared_inbox, body)
    )
    assert "content-length" not in response.request.headers
    assert response.request.headers["transfer-encoding"] == "chunked"
    await assert_refused(live, response, 413, "limited to", before)


async def test_malformed_json_is_a_bad_request(live: LiveServer, remote: RemoteFediverse) -> None:
    before = await live.counts()
    body = b'{"type": "Follow", "actor": '
    response = await remote.post_raw(
        live.shared_inbox, body, remote.signed_headers(live.shared_inbox, body)
    )
    await assert_refused(live, response, 400, "not valid JSON", before)


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        pytest.param(["Follow"], "must be a JSON object", id="array"),
        pytest.param("Follow", "must be a JSON object", id="string"),
        pytest.param({"type": "Follow"}, "needs id, type and actor", id="no-id-no-actor"),
        pytest.param({"id": "ID", "actor": "ACTOR"}, "needs id, type and actor", id="no-type"),
    ],
)
async def test_document_that_is_not_an_activity_is_a_bad_request(
    live: LiveServer, remote: RemoteFediverse, document: Any, reason: str
) -> None:
    before = await live.counts()
    if isinstance(document, dict):
        replace = {"ID": remote.new_id(), "ACTOR": remote.actor_uri("alice")}
        document = {k: replace.get(v, v) for k, v in document.items()}
    body = json.dumps(document).encode()
    response = await remote.post_raw(
        live.shared_inbox, body, remote.signed_headers(live.shared_inbox, body)
    )
    await assert_refused(live, response, 400, reason, before)


async def test_inbox_of_an_unknown_local_actor_is_not_found(
    live: LiveServer, remote: RemoteFediverse
) -> None:
    before = await live.counts()
    response = await remote.send(live.inbox("nobody"), follow_of_ai(remote, live))
    await assert_refused(live, response, 404, "no such actor", before)


async def test_inboxes_take_post_only_and_other_paths_still_reach_the_web_app(
    live: LiveServer, remote: RemoteFediverse
) -> None:
    # The inboxes are answered ahead of Quart (web/inbox.py): everything else must not be.
    async with httpx.AsyncClient(trust_env=False) as client:
        for url in (live.shared_inbox, live.inbox("ai")):
            got = await client.get(url)
            assert (got.status_code, got.headers["allow"]) == (405, "POST")
            assert got.json() == {"error": "inboxes take POST only"}
        page = await client.get(
            live.inbox("ai").removesuffix("/inbox"), headers={"Accept": "text/html"}
        )
        assert page.status_code == 200 and "text/html" in page.headers["content-type"]
        near = await client.post(live.shared_inbox + "x", content=b"{}")
        assert near.status_code == 403  # the web app's CSRF guard: Quart got this one
    response = await remote.send(live.shared_inbox, follow_of_ai(remote, live))
    assert response.status_code == 202
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.content == b""


# --- accepted ----------------------------------------------------------------------------------


@pytest.mark.parametrize("activity_type", ["Travel", "Arrive"])
async def test_unknown_activity_types_are_accepted_and_ignored(
    live: LiveServer, remote: RemoteFediverse, activity_type: str
) -> None:
    before = await live.counts()
    activity = remote.activity(
        "alice",
        activity_type,
        remote.actor_uri("alice"),
        target=remote.actor_uri("bob"),
        to=[PUBLIC],
    )

    response = await remote.send(live.shared_inbox, activity)
    assert response.status_code == 202, response.text
    assert await live.drain() == 1

    after = await live.counts()
    assert after == {**before, "activities": before["activities"] + 1, "jobs": before["jobs"] + 1}
    row = await live.state.db.fetchone(
        "SELECT processed_at, error FROM activities WHERE uri = ?", (activity["id"],)
    )
    assert row is not None and row["processed_at"] is not None and row["error"] is None
    assert await live.count("SELECT COUNT(*) FROM jobs WHERE state != 'done'") == 0
    assert remote.received == []


async def test_self_delete_of_an_unknown_actor_is_accepted_without_fetching_its_key(
    live: LiveServer, remote: RemoteFediverse
) -> None:
    """The actor is gone, and so is its key: nothing to verify, nothing to do (§5)."""
    before = await live.counts()
    alice = remote.actor_uri("alice")
    response = await remote.post_raw(
        live.shared_inbox,
        json.dumps(remote.activity("alice", "Delete", alice, to=[PUBLIC])).encode(),
        {"Content-Type": "application/activity+json"},
    )
    assert response.status_code == 202, response.text
    assert remote.fetched == []
    assert await live.counts() == before


async def test_rfc9421_signed_follow_is_accepted_and_processed(
    live: LiveServer, remote: RemoteFediverse
) -> None:
    follow = follow_of_ai(remote, live)

    response = await remote.send(live.inbox("ai"), follow, scheme="rfc9421")
    assert response.status_code == 202, response.text
    assert "signature-input" in response.request.headers
    await live.drain()

    assert await live.count("SELECT COUNT(*) FROM follows WHERE state = 'accepted'") == 1
    [accept] = remote.posts(type="Accept")
    assert accept.verified, accept.error
    assert accept.activity is not None and accept.activity["object"]["id"] == follow["id"]
