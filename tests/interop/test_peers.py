"""Interop scenarios against real ActivityPub servers: Fedify 2.3.6 and bovine-herd 0.5.19.

Every test runs once per peer (the ``peer`` fixture); pytest groups them by peer and keeps the
file order, so each peer goes through: it follows the AI actor; the AI actor's posts (text, and
an image with alt text) reach it; its mentions (public, followers-only, direct) get threaded AI
replies no wider than the mention; our signed fetches of its actor and notes succeed; our user
``bob`` follows it; its edits and deletes reach our database; it unfollows the AI actor.

Our side is observed through its SQLite file, the peer's through its control API: the
activities it received and the HTTP exchanges it recorded. Steps a test needs from an earlier
one (a follow) are memoised per peer, so each test can also run alone with ``-k``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from e2e.harness import wait_until
from e2e.test_federation_e2e import _make_png, db_row, follow_state, note_on, post

from .conftest import Interop, Peer

pytestmark = pytest.mark.e2e

PUBLIC = "https://www.w3.org/ns/activitystreams#Public"
PUBLIC_NAMES = {PUBLIC, "as:Public", "Public"}
AI_REPLY_TIMEOUT = 150.0


# --- helpers ----------------------------------------------------------------------------------


def as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def id_of(value: Any) -> Any:
    return value.get("id") if isinstance(value, dict) else value


def received_where(peer: Peer, **match: Any) -> list[dict[str, Any]]:
    return [
        activity
        for activity in peer.received()
        if all(activity.get(key) == value for key, value in match.items())
    ]


def wait_for(
    interop: Interop, peer: Peer, predicate: Any, message: str, timeout: float = 30.0
) -> Any:
    """``wait_until`` that names the peer; the report hook attaches its exchanges and logs."""
    return wait_until(
        predicate, timeout=timeout, message=f"[{peer.name}] {message}", instances=[interop.ours]
    )


def audience(obj: dict[str, Any]) -> tuple[list[str], list[str]]:
    return [id_of(x) for x in as_list(obj.get("to"))], [id_of(x) for x in as_list(obj.get("cc"))]


def ensure_user(interop: Interop, name: str) -> str:
    """A local account on a.test, made on first use."""
    if name not in interop.users:
        interop.ours.cli("user", "add", name)
        interop.users.add(name)
    return interop.ours.actor_url(name)


def peer_follows_ai(interop: Interop, peer: Peer) -> str:
    """The peer's alice follows ai@a.test (once per peer); returns the Follow's id."""
    if "follow_ai" not in peer.memo:
        peer.memo["follow_ai"] = peer.control("follow", handle=interop.ours.handle("ai"))["id"]
    follow_id: str = peer.memo["follow_ai"]
    ai, alice = interop.ours.actor_url("ai"), peer.actor_url()
    wait_for(
        interop,
        peer,
        lambda: follow_state(interop.ours, alice, ai) == "accepted",
        "a.test never stored alice as an accepted follower of ai",
    )
    return follow_id


def bob_follows_peer(interop: Interop, peer: Peer) -> str:
    """Our local user bob follows the peer's alice, accepted (once per peer)."""
    bob, alice = ensure_user(interop, "bob"), peer.actor_url()
    if "bob_follows" not in peer.memo:
        interop.ours.cli("follow", "--as", "bob", peer.handle())
        follow = wait_for(
            interop,
            peer,
            lambda: received_where(peer, type="Follow", actor=bob),
            "the peer never received bob's Follow",
        )
        assert follow[0]["object"] == alice
        peer.approve_follow(bob)
        peer.memo["bob_follows"] = True
    wait_for(
        interop,
        peer,
        lambda: follow_state(interop.ours, bob, alice) == "accepted",
        "bob's follow of alice never became accepted on a.test",
    )
    return bob


# --- 1. the peer follows the AI actor --------------------------------------------------------


def test_a_peer_follows_ai_and_records_our_accept(interop: Interop, peer: Peer) -> None:
    follow_id = peer_follows_ai(interop, peer)
    ai, alice = interop.ours.actor_url("ai"), peer.actor_url()
    accepts = wait_for(
        interop,
        peer,
        lambda: received_where(peer, type="Accept", actor=ai),
        "the peer never received ai's Accept",
    )
    embedded = accepts[0]["json"]["object"]
    assert id_of(embedded) == follow_id
    if isinstance(embedded, dict):
        assert id_of(embedded.get("actor")) == alice
        assert id_of(embedded.get("object")) == ai
    wait_for(
        interop,
        peer,
        lambda: ai in peer.following(),
        "the peer did not record ai in its following after our Accept",
    )


# --- 2. the AI actor's posts reach the peer --------------------------------------------------


def created_note(interop: Interop, peer: Peer, note_id: str, what: str) -> dict[str, Any]:
    ai = interop.ours.actor_url("ai")

    def find() -> dict[str, Any] | None:
        for activity in received_where(peer, type="Create", actor=ai):
            note = activity["json"].get("object")
            if isinstance(note, dict) and note.get("id") == note_id:
                return note
        return None

    note: dict[str, Any] = wait_for(interop, peer, find, f"the peer never received {what}")
    return note


def test_b_ai_text_post_reaches_peer(interop: Interop, peer: Peer) -> None:
    peer_follows_ai(interop, peer)
    ai = interop.ours.actor_url("ai")
    note_id = post(interop.ours, "ai", f"hello {peer.name}")
    note = created_note(interop, peer, note_id, f"the Create of {note_id}")
    assert note["type"] == "Note"
    assert id_of(note["attributedTo"]) == ai
    assert f"hello {peer.name}" in note["content"]
    to, cc = audience(note)
    assert PUBLIC_NAMES & set(to)
    assert f"{ai}/followers" in cc


def test_c_ai_image_post_carries_attachment_and_alt_text(
    interop: Interop, peer: Peer, tmp_path: Path
) -> None:
    peer_follows_ai(interop, peer)
    picture = tmp_path / "gradient.png"
    _make_png(picture, (32, 24))
    alt = f"A gradient for the {peer.name} peer"
    note_id = post(interop.ours, "ai", "a picture", "--attach", str(picture), "--alt", alt)
    note = created_note(interop, peer, note_id, "the post with an image")
    attachments = as_list(note.get("attachment"))
    assert len(attachments) == 1, note
    attachment = attachments[0]
    assert attachment["type"] == "Image"
    assert attachment["name"] == alt
    assert attachment["mediaType"] in ("image/png", "image/jpeg")
    url = id_of(attachment["url"]) if not isinstance(attachment["url"], list) else None
    assert isinstance(url, str) and url.startswith("https://a.test/media/"), attachment
    with interop.ours.client() as http:
        assert http.get(url).status_code == 200


# --- 3. mentions get threaded AI replies, never wider than the mention ---------------------------


def ai_reply_to(interop: Interop, peer: Peer, mention: str, what: str) -> dict[str, Any]:
    """The AI's reply to ``mention`` as it reached the peer's inbox."""
    ai = interop.ours.actor_url("ai")

    def reply() -> dict[str, Any] | None:
        for activity in received_where(peer, type="Create", actor=ai):
            note = activity["json"].get("object")
            if isinstance(note, dict) and note.get("inReplyTo") == mention:
                return note
        return None

    found: dict[str, Any] = wait_for(
        interop, peer, reply, f"no threaded AI reply to {what}", AI_REPLY_TIMEOUT
    )
    return found


def ai_reply(interop: Interop, peer: Peer, visibility: str) -> tuple[dict[str, Any], str]:
    ai, alice = interop.ours.actor_url("ai"), peer.actor_url()
    mention = peer.control(
        "post",
        content=f"@ai@a.test ({visibility}) what is the capital of France?",
        mentions=[ai],
        visibility=visibility,
    )["id"]
    note = ai_reply_to(interop, peer, mention, f"the {visibility} mention")
    assert id_of(note["attributedTo"]) == ai
    assert note.get("content"), note
    tags = [t for t in as_list(note.get("tag")) if isinstance(t, dict)]
    assert {"type": "Mention", "href": alice} in [
        {"type": t.get("type"), "href": t.get("href")} for t in tags
    ], tags
    return note, mention


def test_d_public_mention_gets_unlisted_threaded_reply(interop: Interop, peer: Peer) -> None:
    peer_follows_ai(interop, peer)
    note, _ = ai_reply(interop, peer, "public")
    to, cc = audience(note)
    ai, alice = interop.ours.actor_url("ai"), peer.actor_url()
    # Public mentions get unlisted answers by default: never wider than the mention.
    assert alice in to + cc
    assert f"{ai}/followers" in to + cc
    assert not PUBLIC_NAMES & set(to), to


def test_e_followers_only_mention_gets_a_reply_no_wider(interop: Interop, peer: Peer) -> None:
    peer_follows_ai(interop, peer)
    note, mention = ai_reply(interop, peer, "followers")
    to, cc = audience(note)
    ai, alice = interop.ours.actor_url("ai"), peer.actor_url()
    assert not PUBLIC_NAMES & set(to + cc), (to, cc)
    if peer.shows_followers_collection:
        assert note_on(interop.ours, mention)["visibility"] == "followers"
        assert to == [f"{ai}/followers"]
        assert cc == [alice]
    else:
        # bovine shows an actor's followers collection only to the actor itself, so a post
        # addressed to it cannot be told from one to a private audience: we take it as direct
        # (as Mastodon takes it as "limited") and answer directly, which is narrower still.
        assert note_on(interop.ours, mention)["visibility"] == "direct"
        assert to == [alice]
        assert cc == []


def test_f_direct_mention_gets_direct_reply(interop: Interop, peer: Peer) -> None:
    peer_follows_ai(interop, peer)
    note, mention = ai_reply(interop, peer, "direct")
    to, cc = audience(note)
    assert to == [peer.actor_url()]
    assert cc == []
    assert note_on(interop.ours, mention)["visibility"] == "direct"


# --- 4. our signed fetches of the peer's actor and notes ------------------------------------------


def test_g_our_signed_fetches_of_peer_actor_and_note(interop: Interop, peer: Peer) -> None:
    """A note nobody delivered to us (the peer has no followers here yet), liked by bob: we
    fetch the note and its author from the peer with signed GETs (bovine refuses unsigned)."""
    bob = ensure_user(interop, "bob")
    assert bob not in peer.followers()
    with interop.ours.client() as http:  # an anonymous GET, for contrast
        anonymous = http.get(peer.actor_url(), headers={"Accept": "application/activity+json"})
    assert anonymous.status_code == (401 if peer.requires_signed_fetch else 200)
    note_id = peer.control("post", content=f"fetch me from {peer.name}", visibility="public")["id"]
    assert note_on(interop.ours, note_id) is None

    interop.ours.cli("like", "--as", "bob", note_id)

    stored = note_on(interop.ours, note_id)
    assert stored is not None and f"fetch me from {peer.name}" in stored["content"]
    author = db_row(interop.ours, "SELECT uri FROM actors WHERE id = ?", (stored["actor_id"],))
    assert author == {"uri": peer.actor_url()}
    fetches = [
        e
        for e in peer.exchanges()
        if e["direction"] == "in" and e["method"] == "GET" and e["url"] == note_id
    ]
    assert fetches, "the peer saw no GET of the note"
    assert [f["status"] for f in fetches] == [200] * len(fetches), fetches
    assert all("signature" in f["request_headers"] for f in fetches), fetches
    # Its author was fetched too, earlier (to check the Follow's signature), also signed.
    actor_fetches = [
        e
        for e in peer.exchanges()
        if e["direction"] == "in"
        and e["method"] == "GET"
        and e["url"] == peer.actor_url()
        and "fediverse-ai" in e["request_headers"].get("user-agent", "")
    ]
    assert actor_fetches, "a.test never fetched the peer's actor"
    assert all(f["status"] == 200 and "signature" in f["request_headers"] for f in actor_fetches)
    wait_for(
        interop,
        peer,
        lambda: received_where(peer, type="Like", actor=bob, object=note_id),
        "the peer never received bob's Like",
    )


# --- 5. our user follows the peer ------------------------------------------------------------


def test_h_local_user_follows_peer_and_accept_is_processed(interop: Interop, peer: Peer) -> None:
    bob = bob_follows_peer(interop, peer)
    wait_for(
        interop,
        peer,
        lambda: bob in peer.followers(),
        "the peer does not list bob as a follower",
    )
    accept = db_row(
        interop.ours,
        "SELECT raw_json FROM activities WHERE type = 'Accept' AND actor_uri = ?",
        (peer.actor_url(),),
    )
    assert accept is not None


# --- 6. the peer edits and deletes a post ----------------------------------------------------


def test_i_peer_edit_and_delete_reach_our_database(interop: Interop, peer: Peer) -> None:
    bob_follows_peer(interop, peer)
    note_id = peer.control("post", content="Teh first version", visibility="public")["id"]
    wait_for(
        interop,
        peer,
        lambda: note_on(interop.ours, note_id),
        "the peer's post never reached a.test",
    )

    peer.control("update", id=note_id, content="The corrected version")
    edited = wait_for(
        interop,
        peer,
        lambda: (n := note_on(interop.ours, note_id)) and "corrected" in n["content"] and n,
        "a.test never applied the peer's Update",
    )
    assert "Teh first" not in edited["content"]
    assert edited["updated"] is not None

    peer.control("delete", id=note_id)
    wait_for(
        interop,
        peer,
        lambda: note_on(interop.ours, note_id) is None,
        "a.test never removed the note the peer deleted",
    )
    tombstone = db_row(interop.ours, "SELECT actor_uri FROM tombstones WHERE uri = ?", (note_id,))
    assert tombstone == {"actor_uri": peer.actor_url()}


# --- 6b. authorized fetch: the peer reads a followers-only reply, signed --------------------


def test_j_peer_fetches_a_followers_only_reply_it_may_see(interop: Interop, peer: Peer) -> None:
    """Issue 13 item 4: alice follows the AI, so a signed fetch of the AI's followers-only reply
    returns it, and the replies collection lists it for her; a followers-only post of a user
    she does not follow stays invisible to her (404)."""
    peer_follows_ai(interop, peer)
    ensure_user(interop, "erin")
    ours = interop.ours
    topic = post(ours, "erin", f"public question for {peer.name}")
    reply = post(
        ours, "ai", "an answer for followers", "--visibility", "followers", "--reply-to", topic
    )
    private = post(ours, "erin", "erin's followers only", "--visibility", "followers")

    fetched = peer.control("fetch", url=reply)
    assert fetched.get("document", {}).get("id") == reply, fetched
    listed = peer.control("fetch", url=f"{topic}/replies")
    assert reply in as_list(listed.get("document", {}).get("orderedItems")), listed
    refused = peer.control("fetch", url=private)
    assert "document" not in refused, refused
    with ours.client() as http:
        anonymous = http.get(reply, headers={"Accept": "application/activity+json"})
    assert anonymous.status_code == 404


# --- 7. the peer unfollows the AI actor (last) -------------------------------------------------


def test_z_peer_unfollows_ai(interop: Interop, peer: Peer) -> None:
    peer_follows_ai(interop, peer)
    ai, alice = interop.ours.actor_url("ai"), peer.actor_url()
    peer.control("unfollow", handle=interop.ours.handle("ai"))
    wait_for(
        interop,
        peer,
        lambda: follow_state(interop.ours, alice, ai) is None,
        "a.test never removed alice as a follower of ai after her Undo",
    )
    peer.memo.pop("follow_ai", None)
    # bovine never fetched a JSON-LD context: every one it needed was pre-seeded.
    assert not peer.state().get("missingContexts"), peer.state()


def test_z_peer_follows_ai_again_after_unfollowing(interop: Interop, peer: Peer) -> None:
    """Follow, unfollow, follow again (issue 18): the second follow is stored and accepted
    whether the peer makes a new Follow id or reuses one."""
    ai, alice = interop.ours.actor_url("ai"), peer.actor_url()
    if follow_state(interop.ours, alice, ai) is not None:
        peer.control("unfollow", handle=interop.ours.handle("ai"))
        wait_for(interop, peer, lambda: follow_state(interop.ours, alice, ai) is None, "no undo")
    peer.memo.pop("follow_ai", None)

    peer_follows_ai(interop, peer)

    wait_for(
        interop,
        peer,
        lambda: ai in peer.following(),
        "the peer never processed our Accept of its second follow",
    )
    peer.control("unfollow", handle=interop.ours.handle("ai"))
    wait_for(interop, peer, lambda: follow_state(interop.ours, alice, ai) is None, "no undo")
    peer.memo.pop("follow_ai", None)
