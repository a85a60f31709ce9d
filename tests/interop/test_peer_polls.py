"""Interop: polls with a real Fedify server (issue 13 item 6).

Given our user bob following the peer's alice, when alice posts a ``Question`` (built with
Fedify's vocabulary: ``exclusiveOptions``, ``endTime``, ``voters``), then our page shows it
with its options; when our user carol votes from the web, Fedify's inbox (which verifies our
signature before its listeners see anything) receives one ``Create{Note}`` whose ``name`` is
the option and whose ``inReplyTo`` is the Question; and a poll our AI actor posts reaches the
peer as a ``Question`` Fedify parses, options and all.

bovine-herd 0.5.19 has no polls (its vocabulary knows the terms, its code neither builds nor
counts a poll), so these run against the Fedify peer only.
"""

from __future__ import annotations

import re
import subprocess
from typing import Any

import pytest
from e2e.test_federation_e2e import db_row, db_rows, note_on, post

from .conftest import Interop, Peer
from .test_peers import as_list, bob_follows_peer, ensure_user, id_of, peer_follows_ai, wait_for

pytestmark = pytest.mark.e2e

PASSWORD = "interop poll password 42"
CSRF = re.compile(r'name="csrf" value="([^"]*)"')


def fedify_only(peer: Peer) -> None:
    if peer.name != "fedify":
        pytest.skip(f"{peer.name} has no polls (bovine-herd builds and counts none)")


def set_password(interop: Interop, username: str) -> None:
    ours = interop.ours
    subprocess.run(
        [*ours.command, "--config", str(ours.config_path), "user", "password", username,
         "--password-stdin"],
        input=PASSWORD + "\n", text=True, cwd=ours.data_dir, env=ours.env, check=True,
        capture_output=True, timeout=60,
    )  # fmt: skip


def csrf(page: str) -> str:
    found = CSRF.search(page)
    assert found, "no CSRF field"
    return found.group(1).replace("&#34;", '"').replace("&amp;", "&")


def test_a_peers_question_is_shown_and_our_web_vote_reaches_it(
    interop: Interop, peer: Peer
) -> None:
    fedify_only(peer)
    bob_follows_peer(interop, peer)
    question_id = peer.control(
        "post", content="Which season?", poll={"options": ["spring", "autumn"], "seconds": 3600}
    )["id"]
    stored = wait_for(
        interop, peer, lambda: note_on(interop.ours, question_id), "the Question never arrived"
    )
    options = db_rows(
        interop.ours,
        "SELECT name, votes FROM poll_options WHERE note_id = ? ORDER BY position",
        (stored["id"],),
    )
    assert [(o["name"], o["votes"]) for o in options] == [("spring", 0), ("autumn", 0)]
    poll = db_row(interop.ours, "SELECT * FROM polls WHERE note_id = ?", (stored["id"],))
    assert poll is not None and poll["multiple"] == 0 and poll["end_time"]

    ensure_user(interop, "carol")
    set_password(interop, "carol")
    page = f"/notes/{stored['id']}"
    headers = {"Origin": interop.ours.base_url, "Accept": "text/html"}
    with interop.ours.client() as web:
        login = web.get("/login").text
        resp = web.post(
            "/login",
            data={"csrf": csrf(login), "username": "carol", "password": PASSWORD},
            headers=headers,
        )
        assert resp.status_code == 303
        shown = web.get(page, headers=headers).text
        assert shown.count('name="choice"') == 2 and "autumn" in shown
        resp = web.post(
            f"/notes/{stored['id']}/vote",
            data={"csrf": csrf(shown), "choice": "1", "next": page},
            headers=headers,
        )
        assert resp.status_code == 303
        assert "you voted" in web.get(page, headers=headers).text
    carol = interop.ours.actor_url("carol")

    def the_vote() -> list[dict[str, Any]]:
        return [r for r in peer.received() if r["type"] == "Create" and r["actor"] == carol]

    (vote,) = wait_for(interop, peer, the_vote, "the peer never received carol's vote")
    obj = vote["json"]["object"]
    assert obj["type"] == "Note" and obj["name"] == "autumn"
    assert id_of(obj["inReplyTo"]) == question_id
    assert [id_of(x) for x in as_list(obj.get("to"))] == [peer.actor_url()]
    assert not obj.get("content")


def test_b_our_poll_reaches_the_peer_as_a_question(interop: Interop, peer: Peer) -> None:
    fedify_only(peer)
    peer_follows_ai(interop, peer)
    note_id = post(
        interop.ours, "ai", "Tabs or spaces?", "--poll", "tabs", "--poll", "spaces",
        "--poll-multiple", "--poll-seconds", "600",
    )  # fmt: skip

    def created() -> list[dict[str, Any]]:
        return [r for r in peer.received() if r["type"] == "Create" and r["object"] == note_id]

    (create,) = wait_for(interop, peer, created, "the peer never received our Question")
    obj = create["json"]["object"]
    assert create["objectType"] == "Question" and obj["type"] == "Question"
    assert [o["name"] for o in as_list(obj["anyOf"])] == ["tabs", "spaces"]
    assert obj["endTime"] and obj.get("votersCount") == 0
