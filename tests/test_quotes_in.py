"""Quote posts that reach us (issue 13 item 5): the quoted post fetched, the quote verified.

Given our server and a signed stand-in peer on loopback, when the peer delivers a note that
quotes another (FEP-044f's ``quote`` or one of the older properties), then the quoted post is
fetched from its origin and stored, and the quote is shown nested only when the quoted
author's server vouches for it with a ``QuoteAuthorization`` naming exactly this pair of posts.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import httpx
import pytest
from support.live import LiveServer
from support.remote import PUBLIC, RemoteFediverse, remote_server

from fediverse_ai.storage import notes, quotes
from fediverse_ai.storage.quotes import Quote

QUOTED_TEXT = "Hedgehogs can swim across rivers."


async def deliver(live: LiveServer, remote: RemoteFediverse, activity: dict[str, Any]) -> None:
    response = await remote.send(live.shared_inbox, activity)
    assert response.status_code == 202, response.text
    await live.drain()


def quoted_post(remote: RemoteFediverse, username: str = "bob") -> dict[str, Any]:
    """A post served on the peer (fetched by id, never delivered)."""
    return remote.note(username, f"<p>{QUOTED_TEXT}</p>", to=[PUBLIC])


def stamp(
    remote: RemoteFediverse,
    quoting: str,
    quoted: str,
    *,
    by: str = "bob",
    on: RemoteFediverse | None = None,
) -> dict[str, Any]:
    """A ``QuoteAuthorization`` by ``by`` on ``remote``, served by ``on`` (default: ``remote``)."""
    server = on or remote
    doc = {
        "id": server.new_id("quote_authorizations"),
        "type": "QuoteAuthorization",
        "attributedTo": remote.actor_uri(by),
        "interactingObject": quoting,
        "interactionTarget": quoted,
    }
    server.serve(doc)
    return doc


async def quote_of(live: LiveServer, uri: str) -> Quote | None:
    note = await notes.by_uri(live.state.db, uri)
    assert note is not None, uri
    return await quotes.of_note(live.state.db, note.id)


async def page_of(live: LiveServer, uri: str) -> str:
    note = await notes.by_uri(live.state.db, uri)
    assert note is not None
    async with httpx.AsyncClient(base_url=live.base_url, trust_env=False) as client:
        response = await client.get(f"/notes/{note.id}")
    assert response.status_code == 200, response.text
    return response.text


@pytest.mark.parametrize(
    ("prop", "state"),
    [("quote", "pending"), ("quoteUrl", "legacy"), ("_misskey_quote", "legacy"),
     ("quoteUri", "legacy")],
)  # fmt: skip
async def test_each_quote_property_fetches_the_quoted_post_and_links_it(
    live: LiveServer, remote: RemoteFediverse, prop: str, state: str
) -> None:
    """Without a stamp, the quote is a link to the stored quoted post, marked unconfirmed
    (as Mastodon 4.5 shows a quote its author's server did not approve)."""
    target = quoted_post(remote)
    quoting = remote.note("alice", "<p>look at this</p>", to=[PUBLIC], **{prop: target["id"]})
    await deliver(live, remote, remote.activity("alice", "Create", quoting))

    quote = await quote_of(live, quoting["id"])
    assert quote is not None and quote.quoted_uri == target["id"] and quote.state == state
    stored = await notes.by_uri(live.state.db, target["id"])
    assert stored is not None and QUOTED_TEXT in stored.content
    page = await page_of(live, quoting["id"])
    assert f'href="/notes/{stored.id}"' in page and "Quote not confirmed by the author" in page
    assert 'class="quote-card"' not in page and QUOTED_TEXT not in page


async def test_a_stamp_from_the_quoted_server_nests_the_quoted_post(
    live: LiveServer, remote: RemoteFediverse
) -> None:
    target = quoted_post(remote)
    quoting_id = f"{remote.actor_uri('alice')}/statuses/q1"
    granted = stamp(remote, quoting_id, target["id"])
    quoting = remote.note(
        "alice",
        f'<p>so true</p><p class="quote-inline">RE: <a href="{target["id"]}">x</a></p>',
        note_id=quoting_id,
        quote=target["id"],
        quoteAuthorization=granted["id"],
    )
    await deliver(live, remote, remote.activity("alice", "Create", quoting))

    quote = await quote_of(live, quoting_id)
    assert quote is not None and quote.state == "accepted"
    page = await page_of(live, quoting_id)
    assert 'class="quote-card"' in page and QUOTED_TEXT in page and "has-quote" in page


async def test_a_forged_stamp_from_another_host_is_refused_unfetched(
    live: LiveServer, remote: RemoteFediverse
) -> None:
    """A stamp only the quoted post's server can give: one elsewhere is not even fetched."""
    async with remote_server(("mallory",)) as other:
        target = quoted_post(remote)
        quoting_id = f"{remote.actor_uri('alice')}/statuses/q2"
        forged = stamp(remote, quoting_id, target["id"], on=other)
        quoting = remote.note(
            "alice", "<p>hm</p>", note_id=quoting_id, quote=target["id"],
            quoteAuthorization=forged["id"],
        )  # fmt: skip
        await deliver(live, remote, remote.activity("alice", "Create", quoting))
        fetched = list(other.fetched)

    quote = await quote_of(live, quoting_id)
    assert quote is not None and quote.state == "pending"
    assert not any("quote_authorizations" in path for path in fetched), fetched
    assert QUOTED_TEXT not in await page_of(live, quoting_id)


@pytest.mark.parametrize("wrong", ["interactingObject", "interactionTarget", "attributedTo"])
async def test_a_stamp_for_another_pair_of_posts_is_refused(
    live: LiveServer, remote: RemoteFediverse, wrong: str
) -> None:
    target = quoted_post(remote)
    other = quoted_post(remote)
    quoting_id = f"{remote.actor_uri('alice')}/statuses/q-{wrong}"
    granted = stamp(remote, quoting_id, target["id"])
    granted[wrong] = other["id"] if wrong != "attributedTo" else remote.actor_uri("alice")
    remote.serve(granted)
    quoting = remote.note(
        "alice", "<p>hm</p>", note_id=quoting_id, quote=target["id"],
        quoteAuthorization=granted["id"],
    )  # fmt: skip
    await deliver(live, remote, remote.activity("alice", "Create", quoting))

    quote = await quote_of(live, quoting_id)
    assert quote is not None and quote.state == "pending"


async def test_a_deleted_stamp_revokes_the_quote_and_only_its_author_may(
    live: LiveServer, remote: RemoteFediverse
) -> None:
    target = quoted_post(remote)
    quoting_id = f"{remote.actor_uri('alice')}/statuses/q3"
    granted = stamp(remote, quoting_id, target["id"])
    quoting = remote.note(
        "alice", "<p>yes</p>", note_id=quoting_id, quote=target["id"],
        quoteAuthorization=granted["id"],
    )  # fmt: skip
    await deliver(live, remote, remote.activity("alice", "Create", quoting))
    # The quoter cannot withdraw the author's consent for them (nor delete anything with it).
    await deliver(live, remote, remote.activity("alice", "Delete", granted["id"]))
    assert (await quote_of(live, quoting_id)).state == "accepted"  # type: ignore[union-attr]

    withdrawn = {"id": granted["id"], "type": "QuoteAuthorization"}
    await deliver(live, remote, remote.activity("bob", "Delete", withdrawn))

    assert (await quote_of(live, quoting_id)).state == "revoked"  # type: ignore[union-attr]
    page = await page_of(live, quoting_id)
    assert "The author removed this quote" in page and QUOTED_TEXT not in page


async def test_a_quote_loop_costs_one_fetch_and_a_quote_of_a_quote_is_a_link(
    live: LiveServer, remote: RemoteFediverse
) -> None:
    a_id = f"{remote.actor_uri('alice')}/statuses/loop-a"
    b_id = f"{remote.actor_uri('alice')}/statuses/loop-b"
    remote.note("alice", f"<p>{QUOTED_TEXT}</p>", note_id=b_id, quote=a_id)
    a = remote.note("alice", "<p>round and round</p>", note_id=a_id, quote=b_id)
    await deliver(live, remote, remote.activity("alice", "Create", a))

    assert (await quote_of(live, a_id)).state == "accepted"  # type: ignore[union-attr]
    assert (await quote_of(live, b_id)).quoted_uri == a_id  # type: ignore[union-attr]
    assert remote.fetched.count("/users/alice/statuses/loop-b") == 1
    assert "/users/alice/statuses/loop-a" not in remote.fetched
    page = await page_of(live, a_id)
    # One level nested (a self-quote needs no stamp); B's own quote of A is only a link.
    assert 'class="quote-card"' in page and QUOTED_TEXT in page
    assert page.count('class="quote-card"') == 1 and 'class="quote-link"' in page


async def test_a_quoted_post_on_a_private_address_is_not_fetched_with_the_guard_on(
    live: LiveServer, remote: RemoteFediverse
) -> None:
    async with remote_server(("carol",)) as canary:
        target = quoted_post(canary, "carol")
        quoting = remote.note("alice", "<p>see</p>", quote=target["id"])
        response = await remote.send(live.shared_inbox, remote.activity("alice", "Create", quoting))
        assert response.status_code == 202
        # Production's guard from here on: the signer's key was fetched by the request.
        live.state.guard = dataclasses.replace(live.state.guard, allow_private=False)
        await live.drain()
        assert canary.fetched == []

    quote = await quote_of(live, quoting["id"])
    assert quote is not None and quote.state == "pending"
    assert await notes.by_uri(live.state.db, target["id"]) is None
    assert await live.count("SELECT COUNT(*) FROM jobs WHERE state NOT IN ('done')") == 0


@pytest.mark.parametrize(
    "value",
    [
        "https://example.invalid/" + "a" * 5000,
        "javascript:alert(1)",
        {"id": {"id": {"id": "https://x.invalid/"}}},
        [[[[["https://x.invalid/"]]]]],
        12,
    ],
)
async def test_hostile_quote_values_are_ignored_without_an_error(
    live: LiveServer, remote: RemoteFediverse, value: Any
) -> None:
    quoting = remote.note("alice", "<p>odd</p>", quote=value, quoteUrl=value)
    await deliver(live, remote, remote.activity("alice", "Create", quoting))
    assert await quote_of(live, quoting["id"]) is None
    await page_of(live, quoting["id"])
