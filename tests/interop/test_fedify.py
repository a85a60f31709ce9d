"""Interop with a real Fedify server (@fedify/fedify 2.3.6): follows both ways, posts, and a
mention that the AI actor answers with a threaded reply.

The module shares one pair of servers; the tests run in file order (the peer's follow of the
AI actor is the fixture ``alice_follows_ai``). Our side is observed through its SQLite file,
the peer's through its control API's list of received activities.
"""

from __future__ import annotations

from typing import Any

import pytest
from e2e.harness import wait_until
from e2e.test_federation_e2e import follow_state, post

from .conftest import Interop

pytestmark = pytest.mark.e2e

AI_REPLY_TIMEOUT = 150.0


def received_where(interop: Interop, **match: Any) -> list[dict[str, Any]]:
    return [
        activity
        for activity in interop.peer.received()
        if all(activity.get(key) == value for key, value in match.items())
    ]


def as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def wait_for(interop: Interop, predicate: Any, message: str, timeout: float = 30.0) -> Any:
    try:
        return wait_until(predicate, timeout=timeout, message=message, instances=[interop.ours])
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{interop.logs()}") from None


@pytest.fixture(scope="module")
def alice_follows_ai(interop: Interop) -> Interop:
    """alice@fedify.test follows ai@a.test; we store the follow and the peer gets our Accept."""
    interop.peer.control("follow", handle=interop.ours.handle("ai"))
    return interop


def test_a_peer_follows_ai_and_gets_accept(alice_follows_ai: Interop) -> None:
    interop = alice_follows_ai
    alice, ai = interop.peer.actor_url(), interop.ours.actor_url("ai")
    wait_for(
        interop,
        lambda: follow_state(interop.ours, alice, ai) == "accepted",
        "a.test never stored alice@fedify.test as an accepted follower of ai",
    )
    accepts = wait_for(
        interop,
        lambda: received_where(interop, type="Accept", actor=ai),
        "the peer never received ai's Accept",
    )
    follow_id = interop.peer.state()["following"][0]["followId"]
    embedded = accepts[0]["json"]["object"]
    assert (embedded["id"] if isinstance(embedded, dict) else embedded) == follow_id
    state = wait_for(
        interop,
        lambda: [f for f in interop.peer.state()["following"] if f["state"] == "accepted"],
        "the peer did not mark its follow of ai as accepted",
    )
    assert state[0]["actor"] == ai


def test_b_ai_post_reaches_peer(alice_follows_ai: Interop) -> None:
    interop = alice_follows_ai
    ai = interop.ours.actor_url("ai")
    note_id = post(interop.ours, "ai", "hello fedify")
    creates = wait_for(
        interop,
        lambda: received_where(interop, type="Create", actor=ai, object=note_id),
        f"the peer never received the Create of {note_id}",
    )
    note = creates[0]["json"]["object"]
    assert note["type"] == "Note"
    assert note["attributedTo"] == ai
    assert "hello fedify" in note["content"]
    assert "https://www.w3.org/ns/activitystreams#Public" in as_list(note.get("to")) + as_list(
        note.get("cc")
    ) or "as:Public" in as_list(note.get("to")) + as_list(note.get("cc"))


def test_c_mention_gets_threaded_reply(alice_follows_ai: Interop) -> None:
    interop = alice_follows_ai
    ai, alice = interop.ours.actor_url("ai"), interop.peer.actor_url()
    mention = interop.peer.control(
        "post",
        content="@ai@a.test what is the capital of France?",
        mentions=[ai],
        visibility="public",
    )["id"]

    def reply() -> dict[str, Any] | None:
        for activity in received_where(interop, type="Create", actor=ai):
            note = activity["json"].get("object")
            if isinstance(note, dict) and note.get("inReplyTo") == mention:
                return note
        return None

    note = wait_for(interop, reply, "no threaded AI reply reached the peer", AI_REPLY_TIMEOUT)
    assert note["attributedTo"] == ai
    assert note.get("content"), note
    tags = as_list(note.get("tag"))
    assert {"type": "Mention", "href": alice} in [
        {"type": t.get("type"), "href": t.get("href")} for t in tags if isinstance(t, dict)
    ], tags


def test_d_local_user_follows_peer(interop: Interop) -> None:
    ours, peer = interop.ours, interop.peer
    ours.cli("user", "add", "bob")
    ours.cli("follow", "--as", "bob", peer.handle())
    bob, alice = ours.actor_url("bob"), peer.actor_url()
    wait_for(
        interop,
        lambda: follow_state(ours, bob, alice) == "accepted",
        "bob's follow of alice@fedify.test never became accepted on a.test",
    )
    follows = received_where(interop, type="Follow", actor=bob)
    assert follows and follows[0]["object"] == alice
    assert bob in [f["id"] for f in peer.state()["followers"]]
