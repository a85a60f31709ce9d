"""Interop: quote posts (FEP-044f) with the Fedify peer (issue 13 item 5).

Given our user carol and the peer's alice, when alice quotes carol's public post (a note with
``quote`` and a ``QuoteRequest``), then carol's server answers with an Accept whose ``result`` is
a ``QuoteAuthorization`` the peer fetches (signed) and finds naming both posts; and when carol
quotes alice's post (``post --quote``), then the peer receives a ``QuoteRequest`` naming it with
carol's note as ``instrument``, answers with its own stamp, and our note then carries that
stamp as ``quoteAuthorization``. bovine-herd 0.5.19 has no quote vocabulary: skipped there.
"""

from __future__ import annotations

from typing import Any

import pytest
from e2e.test_federation_e2e import db_row, post

from .conftest import Interop, Peer
from .test_peers import ensure_user, id_of, received_where, wait_for

pytestmark = pytest.mark.e2e


def _speaks_quotes(peer: Peer) -> None:
    if peer.name != "fedify":
        pytest.skip(f"{peer.name} does not implement FEP-044f quote posts")


def _accepts_of(peer: Peer, request_id: str) -> list[dict[str, Any]]:
    return [
        a
        for a in received_where(peer, type="Accept")
        if id_of(a["json"].get("object")) == request_id
    ]


def test_the_peer_quotes_our_post_and_fetches_our_stamp(interop: Interop, peer: Peer) -> None:
    _speaks_quotes(peer)
    carol = ensure_user(interop, "carol")
    ours = post(interop.ours, "carol", "a post worth quoting")
    asked = peer.control("quote", object=ours, content="so true")

    (accept,) = wait_for(
        interop, peer, lambda: _accepts_of(peer, asked["request"]), "no Accept of the QuoteRequest"
    )
    assert accept["actor"] == carol
    stamp_url = id_of(accept["json"].get("result"))
    assert stamp_url and stamp_url.startswith(interop.ours.base_url)
    fetched = peer.control("fetch", url=stamp_url)
    stamp = fetched.get("document")
    assert stamp is not None, fetched
    assert stamp["type"] == "QuoteAuthorization" and stamp["id"] == stamp_url
    assert id_of(stamp["attributedTo"]) == carol
    assert id_of(stamp["interactingObject"]) == asked["id"]
    assert id_of(stamp["interactionTarget"]) == ours


def test_our_user_quotes_the_peers_post_and_records_its_stamp(interop: Interop, peer: Peer) -> None:
    _speaks_quotes(peer)
    carol = ensure_user(interop, "carol")
    theirs = peer.control("post", content="quote me if you can", visibility="public")["id"]
    ours = post(interop.ours, "carol", "look at this", "--quote", theirs)

    (request,) = wait_for(
        interop,
        peer,
        lambda: received_where(peer, type="QuoteRequest", actor=carol),
        "the peer never received carol's QuoteRequest",
    )
    assert request["object"] == theirs
    instrument = request["json"].get("instrument")
    assert id_of(instrument) == ours
    row = wait_for(
        interop,
        peer,
        lambda: db_row(
            interop.ours,
            "SELECT q.state, q.authorization_uri FROM quotes q JOIN notes n ON n.id = q.note_id"
            " WHERE n.uri = ? AND q.state = 'accepted'",
            (ours,),
        ),
        "our quote never became accepted with the peer's stamp",
        timeout=60,
    )
    assert str(row["authorization_uri"]).startswith(peer.base_url)
