"""QuoteRequests for our users' posts (FEP-044f): a stamp or a Reject by the post's policy.

Given our server and a signed stand-in peer on loopback, when the peer asks to quote one of
our posts, then what reaches its inbox (signed by the post's author) is an Accept whose
``result`` is a ``QuoteAuthorization`` served at its id, or a Reject; revoking the stamp sends
its Delete and the stamp's URL answers 410 from then on.
"""

from __future__ import annotations

from typing import Any

import pytest
from support.live import LiveServer
from support.remote import PUBLIC, RemoteFediverse
from test_quotes_in import deliver

from fediverse_ai.federation import publish, quote_requests
from fediverse_ai.models import Account, Draft, Note
from fediverse_ai.storage import notes, quotes


async def our_post(
    live: LiveServer, visibility: str = "public", policy: str | None = None
) -> tuple[Account, Note]:
    carol = await live.account("carol")
    draft = Draft(text="Ours to quote", visibility=visibility, quote_policy=policy)  # type: ignore[arg-type]
    return carol, await publish.publish_note(live.state, carol, draft)


def request(
    remote: RemoteFediverse, note: Note, *, quoting_id: str | None = None, inline: bool = True
) -> dict[str, Any]:
    quoting = remote.note(
        "alice", "<p>quoting you</p>", note_id=quoting_id, quote=note.uri, to=[PUBLIC]
    )
    return remote.activity(
        "alice", "QuoteRequest", note.uri, instrument=quoting if inline else quoting["id"]
    )


def answers(remote: RemoteFediverse, kind: str) -> list[dict[str, Any]]:
    """The ``kind`` activities the peer received (each signed and verified)."""
    found = []
    for post in remote.posts(type=kind):
        assert post.verified, post.error
        assert post.activity is not None
        found.append(post.activity)
    return found


async def follow(live: LiveServer, remote: RemoteFediverse, account: Account) -> None:
    await deliver(live, remote, remote.activity("alice", "Follow", account.actor.uri))


async def test_a_quote_request_for_a_public_post_gets_a_stamp_served_at_its_id(
    live: LiveServer, remote: RemoteFediverse
) -> None:
    carol, note = await our_post(live)
    asked = request(remote, note)
    await deliver(live, remote, asked)

    (accept,) = answers(remote, "Accept")
    assert accept["actor"] == carol.actor.uri
    assert accept["object"] == remote.embedded(asked)
    stamp_url = accept["result"]
    assert stamp_url.startswith(f"{live.base_url}/quote-authorizations/")
    doc = (await live.get_as2(stamp_url)).json()
    assert doc["type"] == "QuoteAuthorization" and doc["id"] == stamp_url
    assert doc["attributedTo"] == carol.actor.uri
    assert doc["interactingObject"] == asked["instrument"]["id"]
    assert doc["interactionTarget"] == note.uri
    # Asked again (a new activity for the same quote): the same stamp, not a second one.
    again = request(remote, note, quoting_id=asked["instrument"]["id"], inline=False)
    await deliver(live, remote, again)
    assert [a["result"] for a in answers(remote, "Accept")] == [stamp_url, stamp_url]
    assert await live.count("SELECT COUNT(*) FROM quote_stamps") == 1


async def test_a_revoked_stamp_is_gone_and_its_delete_reaches_the_quoter(
    live: LiveServer, remote: RemoteFediverse
) -> None:
    carol, note = await our_post(live)
    asked = request(remote, note)
    await deliver(live, remote, asked)
    (accept,) = answers(remote, "Accept")
    (stamp,) = await quotes.stamps_of(live.state.db, note.id)
    # The quote itself arrives with our stamp: looked up here, not fetched, and accepted.
    quoting = {**asked["instrument"], "quoteAuthorization": accept["result"]}
    await deliver(live, remote, remote.activity("alice", "Create", quoting))
    stored = await notes.by_uri(live.state.db, quoting["id"])
    assert stored is not None
    assert (await quotes.of_note(live.state.db, stored.id)).state == "accepted"  # type: ignore[union-attr]

    assert await quote_requests.revoke(live.state, carol, stamp)
    assert not await quote_requests.revoke(live.state, carol, stamp)  # nothing sent twice
    await live.drain()

    (delete,) = answers(remote, "Delete")
    assert delete["object"]["id"] == accept["result"] and delete["actor"] == carol.actor.uri
    assert (await live.get_as2(accept["result"])).status_code == 410
    assert (await quotes.of_note(live.state.db, stored.id)).state == "revoked"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("visibility", "policy", "follower", "expected"),
    [
        ("public", None, False, "Accept"),
        ("unlisted", None, False, "Reject"),
        ("unlisted", None, True, "Accept"),
        ("followers", None, True, "Reject"),
        ("direct", "public", True, "Reject"),
        ("public", "nobody", True, "Reject"),
        ("public", "followers", False, "Reject"),
        ("public", "followers", True, "Accept"),
    ],
)
async def test_quote_requests_are_answered_by_the_posts_policy(
    live: LiveServer,
    remote: RemoteFediverse,
    visibility: str,
    policy: str | None,
    follower: bool,
    expected: str,
) -> None:
    carol, note = await our_post(live, visibility, policy)
    if follower:
        await follow(live, remote, carol)
    await deliver(live, remote, request(remote, note))

    answered = [
        a["type"]
        for kind in ("Accept", "Reject")
        for a in answers(remote, kind)
        if a["object"].get("type") == "QuoteRequest"
    ]
    assert answered == [expected]
    stamps = await live.count("SELECT COUNT(*) FROM quote_stamps")
    assert stamps == (1 if expected == "Accept" else 0)


async def test_a_quoting_note_on_another_host_gets_a_reject(
    live: LiveServer, remote: RemoteFediverse
) -> None:
    """The request's quoting note must be the requester's: one elsewhere is not theirs to
    have stamped, inline or by id."""
    _, note = await our_post(live)
    elsewhere = request(remote, note, quoting_id="https://elsewhere.invalid/notes/1")
    elsewhere["instrument"]["attributedTo"] = "https://elsewhere.invalid/users/x"
    await deliver(live, remote, elsewhere)
    forged_inline = request(remote, note)
    forged_inline["instrument"]["attributedTo"] = remote.actor_uri("bob")
    await deliver(live, remote, forged_inline)

    assert len(answers(remote, "Reject")) == 2 and answers(remote, "Accept") == []


@pytest.mark.parametrize(
    ("visibility", "automatic"),
    [("public", [PUBLIC]), ("unlisted", ["followers"]), ("followers", [])],
)
async def test_our_posts_carry_their_interaction_policy(
    live: LiveServer, visibility: str, automatic: list[str]
) -> None:
    carol, note = await our_post(live, visibility)
    if visibility == "followers":  # not served to an unsigned fetch: as it is delivered
        doc = await publish.note_json(live.state, note, carol.actor)
    else:
        doc = (await live.get_as2(note.uri)).json()
        assert "https://w3id.org/fep/044f#" in str(doc["@context"])
    expected = [carol.actor.followers_url if a == "followers" else a for a in automatic]
    policy = doc["interactionPolicy"]["canQuote"]
    assert policy == {"automaticApproval": [*expected, carol.actor.uri], "manualApproval": []}


async def test_a_hostile_quote_request_never_errors(
    live: LiveServer, remote: RemoteFediverse
) -> None:
    _, note = await our_post(live)
    for bad in (
        remote.activity("alice", "QuoteRequest", note.uri),  # no instrument
        remote.activity("alice", "QuoteRequest", {"id": 5}, instrument="x"),
        remote.activity("alice", "QuoteRequest", "https://elsewhere.invalid/1", instrument="y"),
        remote.activity("alice", "QuoteRequest", note.uri, instrument=[[[{"id": []}]]]),
    ):
        await deliver(live, remote, bad)
    assert answers(remote, "Accept") == [] and remote.errors == []
    assert await live.count("SELECT COUNT(*) FROM jobs WHERE state != 'done'") == 0
