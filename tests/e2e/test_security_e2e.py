"""Issue 17 through the TLS front: who the inbox acts for, what it fetches, whom it answers.

Given our instance at https://a.test and two signed stand-in peers behind the same nginx
(``evil.test``, whose users attack, and ``victim.test``, where Bob lives), when the attacker
tries what the security review observed, then nothing is done in Bob's name, no request goes
where the attacker points it, and the inbox answers with the right status.
"""

from __future__ import annotations

import json

import pytest
from support.keys import generate_rsa_key
from support.remote import AS2_TYPE, PUBLIC

from .harness import Instance
from .peers import Front, cli, front, peers, settled, until
from .test_federation_e2e import db_row, follow_state, note_on

pytestmark = pytest.mark.e2e
__all__ = ["front"]  # the module's fixture


def actor_known(a: Instance, uri: str) -> bool:
    return db_row(a, "SELECT id FROM actors WHERE uri = ?", (uri,)) is not None


# --- 1. actor confusion through redirects ----------------------------------------------------


async def test_an_announced_note_whose_author_redirects_to_bob_is_not_bobs(front: Front) -> None:
    a = front.instance
    async with peers(front) as (evil, victim):
        note = evil.note("mallory", "<p>Bob here: send me your password</p>")
        evil.redirects["/users/mallory"] = victim.actor_uri("bob")
        announce = evil.activity("alice", "Announce", note["id"], to=[PUBLIC])

        assert (await evil.send(front.inbox, announce)).status_code == 202
        await settled(a, announce["id"])

        assert note_on(a, note["id"]) is None
        assert not actor_known(a, victim.actor_uri("bob"))
        assert "/users/bob" not in victim.fetched


async def test_a_signer_whose_actor_now_redirects_to_bob_cannot_act_for_him(front: Front) -> None:
    a = front.instance
    ai, carol = a.actor_url("ai"), a.actor_url("carol")
    async with peers(front) as (evil, victim):
        bob = victim.actor_uri("bob")
        follow = victim.activity("bob", "Follow", ai)
        assert (await victim.send(front.inbox, follow)).status_code == 202
        await until(lambda: follow_state(a, bob, ai) == "accepted", message="Bob's follow")
        await cli(a, "follow", "--as", "carol", victim.handle("bob"))
        carol_follow = (await until(lambda: victim.posts(type="Follow"), message="no Follow"))[0]
        assert follow_state(a, carol, bob) == "pending"
        # Mallory's key is fetched and known; then her actor URL starts to redirect to Bob.
        hello = evil.activity("mallory", "Like", f"{a.base_url}/notes/none")
        assert (await evil.send(front.inbox, hello)).status_code == 202
        await settled(a, hello["id"])
        evil.redirects["/users/mallory"] = bob

        undo = evil.activity("mallory", "Undo", victim.embedded(follow))
        accept = evil.activity("mallory", "Accept", carol_follow.activity)
        create = evil.activity(
            "mallory",
            "Create",
            {
                "id": evil.new_id("notes"),
                "type": "Note",
                "attributedTo": [bob, evil.actor_uri("mallory")],
                "content": "<p>@ai tell me a secret</p>",
                "to": [PUBLIC],
                "tag": [{"type": "Mention", "href": ai, "name": "@ai@a.test"}],
            },
            to=[PUBLIC],
        )
        for activity in (undo, accept):
            assert (await evil.send(front.inbox, activity)).status_code == 202
            await settled(a, activity["id"])
        assert follow_state(a, bob, ai) == "accepted"
        assert follow_state(a, carol, bob) == "pending"

        created = await evil.send(front.inbox, create)
        if created.status_code == 202:
            await settled(a, create["id"])
        else:
            assert created.status_code == 403, created.text
        assert note_on(a, create["object"]["id"]) is None


# --- 6. key-fetch amplification ---------------------------------------------------------------


async def test_forged_posts_with_bobs_key_cost_his_server_one_refetch(front: Front) -> None:
    async with peers(front) as (evil, victim):
        like = victim.activity("bob", "Like", f"{front.instance.base_url}/notes/none")
        assert (await victim.send(front.inbox, like)).status_code == 202
        await settled(front.instance, like["id"])  # its worker refetches Bob: not counted
        before = victim.fetched.count("/users/bob")
        forger_key, _ = generate_rsa_key()

        for _ in range(5):
            forged = victim.activity("bob", "Like", f"{front.instance.base_url}/notes/none")
            body = json.dumps(forged).encode()
            headers = victim.signed_headers(
                front.inbox, body, username="bob", private_key_pem=forger_key
            )
            response = await victim.post_raw(front.inbox, body, headers)
            assert response.status_code == 401, response.text
        assert victim.fetched.count("/users/bob") - before <= 1

        # Bob's key for an activity of Mallory's: refused before anything is fetched.
        fetched = len(victim.fetched)
        theirs = evil.activity("mallory", "Like", f"{front.instance.base_url}/notes/none")
        body = json.dumps(theirs).encode()
        headers = evil.signed_headers(
            front.inbox, body, key_id=victim.key_id("bob"), private_key_pem=forger_key
        )
        response = await evil.post_raw(front.inbox, body, headers)
        assert response.status_code == 401
        assert "not on the actor's host" in response.json()["error"]
        assert len(victim.fetched) == fetched


# --- 9. cross-server replay -------------------------------------------------------------------


async def test_a_delivery_signed_for_another_server_is_refused_here(front: Front) -> None:
    async with peers(front) as (evil, _victim):
        like = evil.activity("alice", "Like", "https://b.test/notes/1")
        body = json.dumps(like).encode()
        # Signed for b.test's inbox, then sent to ours with b.test in Host (nginx routes by
        # address, so it reaches us, and forwards that Host).
        headers = evil.signed_headers("https://b.test/inbox", body, username="alice")
        headers["Host"] = "b.test"

        response = await evil.post_raw(front.inbox, body, headers)

        assert response.status_code == 401, response.text
        assert "not addressed to this server" in response.json()["error"]


# --- 11. endpoints on another host, WebFinger that points elsewhere ---------------------------


async def test_an_actor_whose_shared_inbox_is_on_another_host_is_refused(front: Front) -> None:
    async with peers(front) as (evil, victim):
        document = evil.actor_document("mallory")
        document["endpoints"] = {"sharedInbox": victim.shared_inbox}
        evil.overrides["/users/mallory"] = document
        follow = evil.activity("mallory", "Follow", front.instance.actor_url("ai"))

        response = await evil.send(front.inbox, follow)

        # Refused at the key fetch when the actor is new to us, else by the worker's refetch.
        if response.status_code == 202:
            await settled(front.instance, follow["id"])
        else:
            assert response.status_code == 401, response.text
            assert response.json()["error"] == "could not fetch the signing key"
        assert follow_state(front.instance, evil.actor_uri("mallory"), follow["object"]) is None
        assert victim.received == []


async def test_a_handle_whose_webfinger_points_at_another_hosts_actor_is_refused(
    front: Front,
) -> None:
    a = front.instance
    async with peers(front) as (evil, victim):
        # A handle no actor of evil.test has (a known actor would be taken from the database).
        evil.jrd_overrides["acct:eve@evil.test"] = {
            "subject": "acct:eve@evil.test",
            "links": [{"rel": "self", "type": AS2_TYPE, "href": victim.actor_uri("bob")}],
        }

        result = await cli(a, "follow", "--as", "dave", "eve@evil.test", check=False)

        assert result.returncode != 0
        assert "does not confirm this handle" in result.stderr + result.stdout
        assert victim.posts(type="Follow") == []
