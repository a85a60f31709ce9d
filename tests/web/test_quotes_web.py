"""Quoting from the web, and the author's control over quotes of their posts.

Given our server with a logged-in user and a signed peer on loopback, when the user quotes a
remote post, then the note carries ``quote`` (and the older names Mastodon 4.5 sends), a
``QuoteRequest`` reaches the quoted author, and the author's answer is recorded: an Accept's
stamp goes into ``quoteAuthorization`` (sent by Update), a Reject is shown as declined.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any
from urllib.parse import quote

from support.live import LiveServer, live_server
from support.remote import PUBLIC, RemoteFediverse, remote_server
from test_quotes_in import stamp

from fediverse_ai.federation import publish
from fediverse_ai.storage import notes, quotes

from .test_forms import logged_in
from .test_pages import post

QUOTED = "Otters hold hands while they sleep."


async def quote_remote_post(
    server: LiveServer, remote: RemoteFediverse
) -> tuple[dict[str, Any], str, dict[str, Any]]:
    """Carol quotes bob's post from the web; (bob's post, our note's id, the QuoteRequest)."""
    web = await logged_in(server, "carol")
    carol = await server.account("carol")
    # Bob follows carol, so that her posts' Updates reach him.
    follow = remote.activity("bob", "Follow", carol.actor.uri)
    assert (await remote.send(server.inbox("carol"), follow)).status_code == 202
    target = remote.note("bob", f"<p>{QUOTED}</p>", to=[PUBLIC])
    await remote.send(server.shared_inbox, remote.activity("bob", "Create", target))
    await server.drain()
    async with web:
        form = f"/compose?quote={quote(target['id'], safe='')}"
        page = (await web.get(form)).text
        assert "Quoting" in page and QUOTED in page
        assert f'name="quote" value="{html.escape(target["id"])}"' in page
        resp = await web.submit(form, "/compose", {"text": "this!", "quote": target["id"]})
        assert resp.status_code == 303, resp.text
    await server.drain()
    (sent,) = [p.activity for p in remote.posts(type="QuoteRequest")]
    assert sent is not None
    return target, str(sent["instrument"]["id"]), sent


async def test_quoting_a_remote_post_asks_its_author_and_records_the_stamp(
    tmp_path: Path,
) -> None:
    async with live_server(tmp_path) as server, remote_server() as remote:
        target, ours, sent = await quote_remote_post(server, remote)
        (request,) = remote.posts(type="QuoteRequest")
        assert request.verified and request.path == "/users/bob/inbox"
        assert sent["object"] == target["id"]
        doc = (await server.get_as2(ours)).json()
        for prop in ("quote", "_misskey_quote", "quoteUri"):
            assert doc[prop] == target["id"]
        assert "quoteAuthorization" not in doc and 'class="quote-inline"' in doc["content"]

        granted = stamp(remote, ours, target["id"])
        accept = remote.activity("bob", "Accept", remote.embedded(sent), result=granted["id"])
        assert (await remote.send(server.inbox("carol"), accept)).status_code == 202
        await server.drain()

        doc = (await server.get_as2(ours)).json()
        assert doc["quoteAuthorization"] == granted["id"]
        updates = [p.activity for p in remote.posts(type="Update")]
        assert any(u and u["object"].get("quoteAuthorization") == granted["id"] for u in updates)
        note = await notes.by_uri(server.state.db, ours)
        assert note is not None
        quote_row = await quotes.of_note(server.state.db, note.id)
        assert quote_row is not None and quote_row.state == "accepted"


async def test_a_rejected_quote_is_shown_as_declined(tmp_path: Path) -> None:
    async with live_server(tmp_path) as server, remote_server() as remote:
        _, ours, sent = await quote_remote_post(server, remote)
        # Someone else than the quoted author cannot answer for them.
        forged = remote.activity("alice", "Reject", remote.embedded(sent))
        await remote.send(server.shared_inbox, forged)
        await server.drain()
        note = await notes.by_uri(server.state.db, ours)
        assert note is not None
        assert (await quotes.of_note(server.state.db, note.id)).state == "pending"  # type: ignore[union-attr]

        reject = remote.activity("bob", "Reject", remote.embedded(sent))
        assert (await remote.send(server.inbox("carol"), reject)).status_code == 202
        await server.drain()

        assert (await quotes.of_note(server.state.db, note.id)).state == "rejected"  # type: ignore[union-attr]
        web = await logged_in(server, "dave")
        async with web:
            page = (await web.get(f"/notes/{note.id}", follow_redirects=True)).text
        assert "The author declined this quote" in page


async def test_the_author_revokes_a_stamp_from_the_web(tmp_path: Path) -> None:
    async with live_server(tmp_path) as server, remote_server() as remote:
        web = await logged_in(server, "carol")
        uri = await post(server, "carol", "quotable words")
        note = await notes.by_uri(server.state.db, uri)
        assert note is not None
        quoting = remote.note("alice", "<p>quoting</p>", quote=uri)
        ask = remote.activity("alice", "QuoteRequest", uri, instrument=quoting)
        assert (await remote.send(server.shared_inbox, ask)).status_code == 202
        await server.drain()
        (accept,) = [p.activity for p in remote.posts(type="Accept")]
        assert accept is not None
        async with web:
            listing = f"/notes/{note.id}/quotes"
            page = (await web.get(listing)).text
            assert "Revoke" in page and "Alice" in page
            token = accept["result"].rsplit("/", 1)[-1]
            resp = await web.submit(listing, f"/quote-authorizations/{token}/revoke")
            assert resp.status_code == 303
            assert "revoked" in (await web.get(listing)).text
        await server.drain()
        (delete,) = [p.activity for p in remote.posts(type="Delete")]
        assert delete is not None and delete["object"]["id"] == accept["result"]
        assert (await server.get_as2(accept["result"])).status_code == 410
        # Only the author sees and revokes their stamps.
        other = await logged_in(server, "dave")
        async with other:
            assert (await other.get(listing)).status_code == 404


async def test_a_post_whose_author_allows_no_quotes_cannot_be_quoted_here(
    tmp_path: Path,
) -> None:
    async with live_server(tmp_path) as server:
        erin = await server.account("erin")
        closed = await publish.publish_note(
            server.state, erin, publish.Draft(text="mine alone", quote_policy="nobody")
        )
        web = await logged_in(server, "carol")
        async with web:
            form = f"/compose?quote={quote(closed.uri, safe='')}"
            before = await server.count("SELECT COUNT(*) FROM notes")
            resp = await web.submit(form, "/compose", {"text": "hm", "quote": closed.uri})
        assert resp.status_code == 403 and "does not allow you to quote" in resp.text
        assert await server.count("SELECT COUNT(*) FROM notes") == before
