"""Federation between two real processes: follow, posts of every visibility, media, replies,
edits, reactions, deletes and unfollow, from https://a.test to https://b.test and back.

Each test drives one instance with its CLI, as a user would, and observes the other one the way
an operator or a peer could: its database read from outside (SQLite or PostgreSQL), and its
pages and AS2 documents over HTTPS. Every cross-process effect is awaited with ``wait_until``,
never slept for.

The module shares one pair of instances. ``bob`` on B follows A's AI actor once (the
``bob_follows_ai`` fixture); every other test makes its own post, so they can run alone with
``-k``. ``test_bob_unfollows_ai`` ends the follow and stays last in the file.
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from .harness import Instance, Row, wait_until

pytestmark = pytest.mark.e2e

AP_ACCEPT = 'application/activity+json, application/ld+json; profile="https://www.w3.org/ns/activitystreams"'
PUBLIC = "https://www.w3.org/ns/activitystreams#Public"


# --- observing an instance ------------------------------------------------------------------


def db_rows(instance: Instance, sql: str, params: Sequence[Any] = ()) -> list[Row]:
    """Run a query on the instance's database (SQLite or PostgreSQL) while its server runs."""
    return instance.rows(sql, params)


def db_row(instance: Instance, sql: str, params: Sequence[Any] = ()) -> Row | None:
    found = db_rows(instance, sql, params)
    return found[0] if found else None


def note_on(instance: Instance, uri: str) -> Row | None:
    return db_row(instance, "SELECT * FROM notes WHERE uri = ?", (uri,))


def wait_for_note(instance: Instance, uri: str, message: str) -> Row:
    return wait_until(lambda: note_on(instance, uri), message=message)


def follow_state(instance: Instance, follower_uri: str, followee_uri: str) -> str | None:
    row = db_row(
        instance,
        "SELECT f.state FROM follows f"
        " JOIN actors fr ON fr.id = f.follower_id JOIN actors fe ON fe.id = f.followee_id"
        " WHERE fr.uri = ? AND fe.uri = ?",
        (follower_uri, followee_uri),
    )
    return row["state"] if row else None


def get_as2(instance: Instance, url: str) -> dict[str, Any]:
    with instance.client() as http:
        response = http.get(url, headers={"Accept": AP_ACCEPT})
    assert response.status_code == 200, f"GET {url}: {response.status_code} {response.text}"
    doc: dict[str, Any] = response.json()
    return doc


def post(instance: Instance, username: str, text: str, *options: str) -> str:
    """``fediverse-ai post --as USERNAME [options] TEXT``; returns the new note's id."""
    output = instance.cli("post", "--as", username, *options, text).stdout
    return output.strip().splitlines()[-1]


# --- fixtures ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def bob_follows_ai(two_instances: tuple[Instance, Instance]) -> tuple[Instance, Instance]:
    """bob@b.test follows ai@a.test, accepted on both sides."""
    a, b = two_instances
    b.cli("user", "add", "bob")
    b.cli("follow", "--as", "bob", a.handle("ai"))
    wait_until(
        lambda: follow_state(a, b.actor_url("bob"), a.actor_url("ai")) == "accepted",
        message="A never stored bob@b.test as an accepted follower of ai",
    )
    wait_until(
        lambda: follow_state(b, b.actor_url("bob"), a.actor_url("ai")) == "accepted",
        message="B never processed A's Accept of bob's Follow",
    )
    return a, b


# --- 1. follow --------------------------------------------------------------------------------


def test_follow_is_stored_on_a_and_accepted_on_b(bob_follows_ai: tuple[Instance, Instance]) -> None:
    a, b = bob_follows_ai
    bob, ai = b.actor_url("bob"), a.actor_url("ai")

    follower = db_row(
        a,
        "SELECT a.inbox, a.shared_inbox, f.state FROM follows f"
        " JOIN actors a ON a.id = f.follower_id WHERE a.uri = ?",
        (bob,),
    )
    assert follower == {
        "inbox": f"{bob}/inbox",
        "shared_inbox": "https://b.test/inbox",
        "state": "accepted",
    }
    assert get_as2(a, f"{ai}/followers")["totalItems"] == 1
    assert follow_state(b, bob, ai) == "accepted"
    assert get_as2(b, f"{bob}/following")["totalItems"] == 1
    # The Accept that B processed embedded bob's Follow, as Mastodon requires.
    accept = db_row(
        b, "SELECT raw_json FROM activities WHERE type = 'Accept' AND actor_uri = ?", (ai,)
    )
    assert accept is not None
    embedded = json.loads(accept["raw_json"])["object"]
    assert embedded["type"] == "Follow"
    assert embedded["actor"] == bob
    assert embedded["object"] == ai


# --- 2. posts of each visibility reach B -------------------------------------------------------


def test_public_post_reaches_b(bob_follows_ai: tuple[Instance, Instance]) -> None:
    a, b = bob_follows_ai

    uri = post(a, "ai", "Hello from A, everyone")

    note = wait_for_note(b, uri, "the public post never reached B")
    assert note["visibility"] == "public"
    assert note["local"] == 0
    assert "Hello from A, everyone" in note["content"]
    assert PUBLIC in json.loads(note["to_json"])
    author = db_row(b, "SELECT uri FROM actors WHERE id = ?", (note["actor_id"],))
    assert author == {"uri": a.actor_url("ai")}


def test_followers_only_post_reaches_b_addressed_to_the_followers(
    bob_follows_ai: tuple[Instance, Instance],
) -> None:
    a, b = bob_follows_ai

    uri = post(a, "ai", "Only for my followers", "--visibility", "followers")

    note = wait_for_note(b, uri, "the followers-only post never reached B")
    assert note["visibility"] == "followers"
    assert json.loads(note["to_json"]) == [f"{a.actor_url('ai')}/followers"]
    assert PUBLIC not in json.loads(note["cc_json"])
    # A does not serve it to anonymous fetchers.
    with a.client() as http:
        assert http.get(uri, headers={"Accept": AP_ACCEPT}).status_code == 404


def test_direct_post_reaches_only_the_mentioned_actor(
    bob_follows_ai: tuple[Instance, Instance],
) -> None:
    a, b = bob_follows_ai
    bob = b.actor_url("bob")

    uri = post(a, "ai", "@bob@b.test this one is just for you", "--visibility", "direct")

    note = wait_for_note(b, uri, "the direct post never reached B")
    assert note["visibility"] == "direct"
    assert json.loads(note["to_json"]) == [bob]
    assert json.loads(note["cc_json"]) == []
    mentions = db_rows(b, "SELECT actor_uri FROM note_mentions WHERE note_id = ?", (note["id"],))
    assert mentions == [{"actor_uri": bob}]
    # One delivery, to bob's personal inbox: not to B's shared inbox, not to anyone else.
    deliveries = db_rows(
        a,
        "SELECT payload, state FROM jobs WHERE kind = 'deliver' AND dedupe_key LIKE ?",
        (f"deliver:{uri}/activity:%",),
    )
    assert [json.loads(d["payload"])["inbox"] for d in deliveries] == [f"{bob}/inbox"]
    assert [d["state"] for d in deliveries] == ["done"]
    with a.client() as http:
        assert http.get(uri, headers={"Accept": AP_ACCEPT}).status_code == 404


def _make_png(path: Path, size: tuple[int, int]) -> None:
    image = Image.new("RGB", size)
    image.putdata(
        [
            (x * 255 // size[0], y * 255 // size[1], 128)
            for y in range(size[1])
            for x in range(size[0])
        ]
    )
    image.save(path, format="PNG")


def test_public_post_with_an_image_carries_the_media_and_alt_text(
    bob_follows_ai: tuple[Instance, Instance], tmp_path: Path
) -> None:
    a, b = bob_follows_ai
    picture = tmp_path / "gradient.png"
    _make_png(picture, (64, 48))
    alt = "A colour gradient from black to red and green"

    uri = post(a, "ai", "A picture for you", "--attach", str(picture), "--alt", alt)

    note = wait_for_note(b, uri, "the post with an image never reached B")
    media = db_rows(b, "SELECT * FROM media WHERE note_id = ?", (note["id"],))
    assert len(media) == 1
    stored = media[0]
    assert stored["description"] == alt
    assert stored["local"] == 0
    assert (stored["width"], stored["height"]) == (64, 48)
    assert stored["blurhash"]
    assert stored["url"].startswith("https://a.test/media/")

    with b.client() as http:
        response = http.get(stored["url"])
    assert response.status_code == 200
    assert response.headers["content-type"] == stored["media_type"]
    with Image.open(io.BytesIO(response.content)) as served:
        served.verify()
    with Image.open(io.BytesIO(response.content)) as served:
        assert served.size == (64, 48)

    attachments = get_as2(a, uri)["attachment"]
    assert len(attachments) == 1
    attachment = attachments[0]
    assert attachment["type"] == "Image"
    assert attachment["url"] == stored["url"]
    assert attachment["mediaType"] == stored["media_type"]
    assert attachment["name"] == alt
    assert attachment["summary"] == alt
    assert attachment["blurhash"] == stored["blurhash"]
    assert (attachment["width"], attachment["height"]) == (64, 48)


# --- 3. a reply from B ------------------------------------------------------------------------


def test_reply_from_b_is_stored_listed_and_shown_on_a(
    bob_follows_ai: tuple[Instance, Instance],
) -> None:
    a, b = bob_follows_ai
    uri = post(a, "ai", "Ask me anything")
    wait_for_note(b, uri, "the post to reply to never reached B")

    reply_uri = post(b, "bob", "What is the answer to everything?", "--reply-to", uri)

    reply = wait_for_note(a, reply_uri, "bob's reply never reached A")
    assert reply["in_reply_to_uri"] == uri
    assert reply["visibility"] == "public"
    assert reply_uri in get_as2(a, f"{uri}/replies")["orderedItems"]
    original = note_on(a, uri)
    assert original is not None
    for url in (uri, original["url"]):
        with a.client() as http:
            page = http.get(url, headers={"Accept": "text/html"})
        assert page.status_code == 200, url
        assert page.headers["content-type"].startswith("text/html")
        assert "What is the answer to everything?" in page.text


# --- 4. edit, reactions, delete, unfollow -----------------------------------------------------


def test_edit_updates_b_copy(bob_follows_ai: tuple[Instance, Instance]) -> None:
    a, b = bob_follows_ai
    uri = post(a, "ai", "Teh first version")
    wait_for_note(b, uri, "the post to edit never reached B")

    a.cli("edit", "--as", "ai", uri, "The corrected version")

    edited = wait_until(
        lambda: (n := note_on(b, uri)) and "The corrected version" in n["content"] and n,
        message="B's copy never showed the edit",
    )
    assert "Teh first version" not in edited["content"]
    assert edited["updated"] is not None
    assert get_as2(a, uri)["updated"] == edited["updated_text"]


def _reactions_on_a(a: Instance, table: str, actor_uri: str, note_uri: str) -> list[Row]:
    return db_rows(
        a,
        f"SELECT r.* FROM {table} r JOIN actors x ON x.id = r.actor_id"
        " JOIN notes n ON n.id = r.note_id WHERE x.uri = ? AND n.uri = ?",
        (actor_uri, note_uri),
    )


def test_like_and_unlike_by_bob(bob_follows_ai: tuple[Instance, Instance]) -> None:
    a, b = bob_follows_ai
    bob = b.actor_url("bob")
    uri = post(a, "ai", "Like me")
    wait_for_note(b, uri, "the post to like never reached B")

    b.cli("like", "--as", "bob", uri)
    likes = wait_until(
        lambda: _reactions_on_a(a, "reactions", bob, uri), message="A never recorded bob's Like"
    )
    assert [(r["kind"], r["emoji"]) for r in likes] == [("like", "")]
    assert likes[0]["uri"].startswith("https://b.test/")

    b.cli("unlike", "--as", "bob", uri)
    wait_until(
        lambda: not _reactions_on_a(a, "reactions", bob, uri),
        message="A never removed bob's Like after the Undo",
    )


def test_boost_and_unboost_by_bob(bob_follows_ai: tuple[Instance, Instance]) -> None:
    a, b = bob_follows_ai
    bob = b.actor_url("bob")
    uri = post(a, "ai", "Boost me")
    wait_for_note(b, uri, "the post to boost never reached B")

    b.cli("boost", "--as", "bob", uri)
    boosts = wait_until(
        lambda: _reactions_on_a(a, "announces", bob, uri), message="A never recorded bob's Announce"
    )
    assert len(boosts) == 1
    assert boosts[0]["uri"].startswith("https://b.test/")

    b.cli("unboost", "--as", "bob", uri)
    wait_until(
        lambda: not _reactions_on_a(a, "announces", bob, uri),
        message="A never removed bob's Announce after the Undo",
    )


def test_delete_removes_b_copy(bob_follows_ai: tuple[Instance, Instance]) -> None:
    a, b = bob_follows_ai
    uri = post(a, "ai", "This will not last")
    wait_for_note(b, uri, "the post to delete never reached B")

    a.cli("delete", "--as", "ai", uri)

    wait_until(lambda: note_on(b, uri) is None, message="B never removed the deleted note")
    assert db_row(b, "SELECT actor_uri FROM tombstones WHERE uri = ?", (uri,)) == {
        "actor_uri": a.actor_url("ai")
    }
    with a.client() as http:
        assert http.get(uri, headers={"Accept": AP_ACCEPT}).status_code in (404, 410)


def test_bob_unfollows_ai(bob_follows_ai: tuple[Instance, Instance]) -> None:
    """Last in the module: after it, bob no longer follows ai."""
    a, b = bob_follows_ai
    bob, ai = b.actor_url("bob"), a.actor_url("ai")

    b.cli("unfollow", "--as", "bob", a.handle("ai"))

    assert follow_state(b, bob, ai) is None
    wait_until(
        lambda: follow_state(a, bob, ai) is None, message="A never removed bob as a follower"
    )
    assert get_as2(a, f"{ai}/followers")["totalItems"] == 0
