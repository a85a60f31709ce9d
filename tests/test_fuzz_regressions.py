"""Crashes the fuzzers (tests/fuzz/) found, each pinned by a focused test of its own.

Given our server and a stand-in peer on loopback, when the input a fuzzer found arrives over
HTTP, then it is refused or stored cleanly: no 5xx, and no job that fails with a Python
exception instead of one of our own errors.
"""

from __future__ import annotations

import httpx
from support.live import LiveServer
from support.remote import PUBLIC, RemoteFediverse
from web.support import Browserish, make_user

from fediverse_ai.as2_in import parse_note
from fediverse_ai.federation import publish
from fediverse_ai.models import Draft
from fediverse_ai.web.auth import safe_next


async def inbox_job_errors(live: LiveServer) -> list[str | None]:
    rows = await live.state.db.fetchall("SELECT last_error FROM jobs WHERE kind = 'inbox'")
    return [r["last_error"] for r in rows]


async def test_attachment_sizes_too_large_for_sqlite_are_dropped(
    live: LiveServer, remote: RemoteFediverse
) -> None:
    # A width of 10**400 is a valid JSON number; SQLite's INTEGER is 64 bits, so storing it
    # raised OverflowError in the inbox job, on every retry.
    attachment = {
        "type": "Document",
        "mediaType": "image/png",
        "url": f"{remote.base_url}/m/none.png",
        "width": 10**400,
        "height": 2**63,
    }
    note = remote.note("alice", "<p>big</p>", attachment=[attachment])
    create = remote.activity("alice", "Create", note, to=[PUBLIC])
    assert (await remote.send(live.shared_inbox, create)).status_code == 202
    await live.drain()

    assert await inbox_job_errors(live) == [None]
    row = await live.state.db.fetchone(
        "SELECT width, height FROM media WHERE url = ?", (attachment["url"],)
    )
    assert row is not None and (row["width"], row["height"]) == (None, None)


def test_attachment_sizes_must_be_positive_integers() -> None:
    base = {"id": "http://127.0.0.1:1/n", "type": "Note", "attributedTo": "http://127.0.0.1:1/a"}
    for bad in (True, -5, 0, 2**63, 1.5, "100"):
        item = {"type": "Image", "url": "http://127.0.0.1:1/i.png", "width": bad, "height": bad}
        [parsed] = parse_note({**base, "attachment": [item]}).attachments
        assert (parsed.width, parsed.height) == (None, None), bad
    item = {"type": "Image", "url": "http://127.0.0.1:1/i.png", "width": 640, "height": 480}
    [parsed] = parse_note({**base, "attachment": [item]}).attachments
    assert (parsed.width, parsed.height) == (640, 480)


async def test_ids_in_paths_too_large_for_sqlite_are_not_found(live: LiveServer) -> None:
    # <int:...> accepted any number of digits, and SQLite's INTEGER is 64 bits: the lookup
    # raised OverflowError and the page answered 500.
    async with httpx.AsyncClient(base_url=live.base_url) as client:
        for path in ("/notes/99999999999999999999999", f"/notes/{2**63}"):
            answer = await client.get(path)
            assert answer.status_code == 404, (path, answer.status_code)
        assert (await client.get(f"/notes/{2**63 - 1}")).status_code == 404


async def test_a_follow_of_something_that_is_no_actor_is_not_found(
    live: LiveServer, remote: RemoteFediverse
) -> None:
    # A user typing a post's URL (or a dead server's handle) into the follow form got a 502,
    # our own failure as far as any monitoring can tell, with an ERROR in our log.
    await make_user(live, "carol")
    note = remote.note("alice", "<p>not an actor</p>")
    async with Browserish(live.base_url) as browser:
        assert (await browser.login("carol")).status_code == 303
        for target in (note["id"], "nobody@127.0.0.1:1"):
            answer = await browser.submit("/compose", "/follow", {"target": target})
            assert answer.status_code == 404, (target, answer.status_code)
        lookup = await browser.get("/authorize_interaction", params={"uri": "x@127.0.0.1:1"})
        assert lookup.status_code == 404
        remote_follow = await browser.submit(
            "/@carol/remote_follow", "/@carol/remote_follow", {"handle": "me@127.0.0.1:1"}
        )
        assert remote_follow.status_code == 404
        assert "could not connect" in remote_follow.text


async def test_digits_that_are_not_ascii_in_query_parameters(live: LiveServer) -> None:
    # str.isdigit() is true for "²" and "①", which int() and float() refuse: pages that
    # checked a parameter with isdigit() answered 500.
    await live.account("carol")
    async with httpx.AsyncClient(base_url=live.base_url) as client:
        for digits in ("\u00b2", "\u2460", "1\u00b2"):
            for path, params in (
                ("/", {"before": digits}),
                ("/users/carol/followers", {"page": digits}),
                ("/users/carol/outbox", {"page": "true", "before": digits}),
                ("/users/carol/outbox", {"page": digits}),
            ):
                answer = await client.get(path, params=params)
                assert answer.status_code == 200, (path, params, answer.status_code)


async def test_redirect_targets_with_control_or_non_ascii_characters(live: LiveServer) -> None:
    # A "next" of "/home\x00" passed safe_next and became the Location header, which the HTTP
    # layer refused: the connection dropped without an answer. Non-ASCII (RTL marks) failed
    # the same way, as Location is Latin-1 on the wire.
    await make_user(live, "carol")
    carol = await live.account("carol")
    note = await publish.publish_note(live.state, carol, Draft(text="a post"))
    async with Browserish(live.base_url) as browser:
        assert (await browser.login("carol")).status_code == 303
        for target, location in (
            ("/home\x00b", f"/notes/{note.id}"),
            ("/home\r\nSet-Cookie: x=y", f"/notes/{note.id}"),
            ("/tags/caf\u00e9\u202e", "/tags/caf%C3%A9%E2%80%AE"),
            ("/tags/a%20b?x=1#f", "/tags/a%20b?x=1#f"),
        ):
            answer = await browser.submit("/compose", f"/notes/{note.id}/like", {"next": target})
            assert answer.status_code == 303, target
            assert answer.headers["location"].startswith(location), answer.headers["location"]
            assert "x=y" not in answer.headers.get("set-cookie", "")


def test_safe_next_keeps_local_paths_printable() -> None:
    assert safe_next("/tags/\ud800", "/home") == "/home"  # no UTF-8 for a lone surrogate
    assert safe_next("/a\tb", "/home") == "/home"
    assert safe_next("/\u00e9 x") == "/\u00e9 x"  # see_other encodes it
    assert safe_next("//evil.test/") == "/"


async def test_redirects_to_remote_names_that_are_not_ascii(
    live: LiveServer, remote: RemoteFediverse
) -> None:
    # A peer's username ("b\u202eob", with an RTL override) went into the Location header of
    # the redirect to its profile, which cannot carry it: the connection dropped unanswered.
    remote.users["bob"].preferred_username = "b\u202eob\x00"
    await make_user(live, "carol")
    async with Browserish(live.base_url) as browser:
        assert (await browser.login("carol")).status_code == 303
        answer = await browser.get(
            "/authorize_interaction", params={"uri": remote.actor_uri("bob")}
        )
        assert answer.status_code == 303
        # PostgreSQL's text holds no NUL: the store keeps U+FFFD in its place (storage/pg.py)
        nul = "%00" if live.state.db.dialect == "sqlite" else "%EF%BF%BD"
        assert answer.headers["location"].startswith(f"/@b%E2%80%AEob{nul}@")
        profile = await browser.get(answer.headers["location"])
        assert profile.status_code == 200
