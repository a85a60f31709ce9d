"""Interop: a local user's app finds, follows and favourites on a real peer (issue 14).

Given a user of a.test logged in through the OAuth flow with a real client library
(Mastodon.py, masto.js, megalodon), when the app searches ``@alice@<peer>`` with
``resolve=true`` (WebFinger, then a signed, SSRF-guarded fetch of the actor) and follows the
account found, then the peer receives the Follow; once the peer accepts it (Fedify by itself,
bovine when told to) the relationship says ``following``, no longer ``requested``; a note alice
then posts appears in the app's home timeline; unfollowing sends the peer an Undo of that
Follow. And when the app searches the URL of a note of alice's it has never received, the
note is fetched, found, and favouriting it sends the peer a Like of it.

Each library has its own local user (made once per module); each test runs per peer.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from .clients import LIBRARIES, WAIT_S, App, js_missing, logged_in_user, make_app
from .conftest import Interop, Peer
from .test_peers import received_where, wait_for

pytestmark = pytest.mark.e2e

USERS = {"mastodon.py": "mpy", "masto": "mastojs", "megalodon": "megalodon"}
# Peers that accept a Follow only when told to (approve_follow), though their actor is not locked.
ACCEPT_WHEN_TOLD = {"bovine"}


@pytest.fixture(scope="module")
def tokens() -> Iterator[dict[str, str]]:
    """Each library's user's access token, once the first test of that library made it."""
    yield {}


@pytest.fixture(params=LIBRARIES)
def app(
    request: pytest.FixtureRequest, interop: Interop, tokens: dict[str, str]
) -> tuple[App, str]:
    """The library's app, logged in, and its user's actor id."""
    library: str = request.param
    if library != "mastodon.py" and (missing := js_missing()):
        if os.environ.get("CI"):
            pytest.fail(f"{library} cannot run under CI: {missing}", pytrace=False)
        pytest.skip(missing)
    username = USERS[library]
    if library not in tokens:
        tokens[library] = logged_in_user(interop.ours, username)
        interop.users.add(username)
    return make_app(interop.ours, library, tokens[library]), interop.ours.actor_url(username)


def _one(interop: Interop, peer: Peer, what: str, **match: Any) -> dict[str, Any]:
    found = wait_for(
        interop, peer, lambda: received_where(peer, **match), f"never received {what}", WAIT_S
    )
    result: dict[str, Any] = found[-1]
    return result


def test_an_app_follows_a_peer_account_sees_its_post_and_unfollows(
    interop: Interop, peer: Peer, app: tuple[App, str]
) -> None:
    client, me = app
    alice = peer.actor_url()

    followed = client.step("follow", f"@{peer.handle()}")
    account = followed["account"]
    assert account["acct"] == peer.handle() and account["uri"] == alice
    if peer.name not in ACCEPT_WHEN_TOLD:  # its Accept may already be in
        assert followed["relationship"]["requested"] or followed["relationship"]["following"]
    else:  # pending until it accepts
        assert followed["relationship"] == {
            "id": account["id"],
            "following": False,
            "requested": True,
        }

    follow = _one(interop, peer, "our user's Follow", type="Follow", actor=me)
    assert follow["object"] == alice
    peer.approve_follow(me)
    relation = client.step("following", account["id"])["relationship"]
    assert relation == {"id": account["id"], "following": True, "requested": False}

    text = f"news for the {me.rsplit('/', 1)[1]} app"
    note = peer.control("post", content=text, visibility="public")["id"]
    status = client.step("home", note)["status"]
    assert status["acct"] == peer.handle() and text in status["content"]

    relation = client.step("unfollow", account["id"])["relationship"]
    assert not relation["following"] and not relation["requested"]
    _one(interop, peer, "the Undo of our Follow", type="Undo", actor=me, object=follow["id"])
    wait_for(interop, peer, lambda: me not in peer.followers(), "we are still a follower", WAIT_S)


def test_an_app_finds_a_peer_note_by_url_and_favourites_it(
    interop: Interop, peer: Peer, app: tuple[App, str]
) -> None:
    client, me = app
    # Posted while nobody here follows alice: only the search's fetch can bring it.
    note = peer.control("post", content="a note worth a star", visibility="public")["id"]

    liked = client.step("favourite", note)
    assert liked["found"]["uri"] == note and liked["found"]["acct"] == peer.handle()
    assert liked["status"] == {
        "id": liked["found"]["id"],
        "favourited": True,
        "favourites_count": 1,
    }
    _one(interop, peer, "our user's Like", type="Like", actor=me, object=note)
    fetches = [
        e
        for e in peer.exchanges()
        if e["direction"] == "in" and e["method"] == "GET" and e["url"] == note
    ]
    assert fetches and all("signature" in e["request_headers"] for e in fetches), fetches
