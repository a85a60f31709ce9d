"""Interop: deleting a local account reaches real peers (issue 16 item 4).

Given the peer's alice following our user (one per peer), when the account is deleted with
``fediverse-ai user delete``, then the peer's inbox accepts a ``Delete`` whose actor and object
are the account's actor, signed by its key (the peers verify it before they record it), and
our actor answers 410 Gone from then on.
"""

from __future__ import annotations

import pytest
from e2e.test_federation_e2e import follow_state

from .conftest import Interop, Peer
from .test_peers import received_where, wait_for

pytestmark = pytest.mark.e2e


def test_an_account_deletion_reaches_the_peer(interop: Interop, peer: Peer) -> None:
    name = f"leaving_{peer.name}"
    interop.ours.cli("user", "add", name)
    interop.users.add(name)
    ours = interop.ours.actor_url(name)
    peer.control("follow", handle=interop.ours.handle(name))
    wait_for(
        interop,
        peer,
        lambda: follow_state(interop.ours, peer.actor_url(), ours) == "accepted",
        f"a.test never stored alice as an accepted follower of {name}",
    )
    wait_for(interop, peer, lambda: ours in peer.following(), "the peer never saw our Accept")
    out = interop.ours.cli("user", "delete", name, "--yes").stdout
    assert "deleted" in out
    (delete,) = wait_for(
        interop,
        peer,
        lambda: received_where(peer, type="Delete", actor=ours),
        "the peer never accepted the actor's Delete",
        timeout=60,
    )
    assert delete["object"] == ours or (delete.get("json") or {}).get("object") == ours
    with interop.ours.client() as client:
        gone = client.get(ours, headers={"Accept": "application/activity+json"})
    assert gone.status_code == 410
