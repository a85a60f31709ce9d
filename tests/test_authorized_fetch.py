"""Authorized fetch (issue 13 item 4): signed GETs, and what each signer may see.

Given our server with carol's followers-only and direct posts, and a real peer on loopback whose
alice follows carol and whose bob does not, when they fetch those posts signed (and unsigned),
then each sees exactly what Mastodon would show them, 404 for the rest; in secure mode every
ActivityPub GET must be signed, the instance actor excepted.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from support.keys import generate_rsa_key
from support.live import LiveServer, live_server
from support.remote import AS2_TYPE, RemoteFediverse

from fediverse_ai.federation import publish
from fediverse_ai.models import Draft, Note


async def setup(live: LiveServer, remote: RemoteFediverse) -> dict[str, Note]:
    carol = await live.account("carol")
    follow = remote.activity("alice", "Follow", carol.actor.uri)
    assert (await remote.send(live.inbox("carol"), follow)).status_code == 202
    await live.drain()
    made = {
        "public": Draft(text="hello everyone"),
        "followers": Draft(text="for my followers", visibility="followers"),
        "direct": Draft(
            text="just for you", visibility="direct", extra_mentions=(remote.actor_uri("alice"),)
        ),
    }
    posts = {name: await publish.publish_note(live.state, carol, d) for name, d in made.items()}
    posts["reply"] = await publish.publish_note(
        live.state,
        carol,
        Draft(text="a reply", visibility="followers", in_reply_to=posts["public"].uri),
    )
    await live.drain()
    return posts


async def unsigned(url: str) -> httpx.Response:
    async with httpx.AsyncClient(timeout=10) as client:
        return await client.get(url, headers={"Accept": AS2_TYPE})


async def test_each_signer_sees_what_they_may(tmp_path: Path, remote: RemoteFediverse) -> None:
    async with live_server(tmp_path / "ours") as live:
        posts = await setup(live, remote)
        for name, expected in [
            ("public", {None: 200, "alice": 200, "bob": 200}),
            ("followers", {None: 404, "alice": 200, "bob": 404}),
            ("direct", {None: 404, "alice": 200, "bob": 404}),
        ]:
            url = posts[name].uri
            seen = {None: (await unsigned(url)).status_code}
            for user in ("alice", "bob"):
                response = await remote.get_signed(url, username=user)
                seen[user] = response.status_code
                if response.status_code == 200:
                    assert response.json()["id"] == url
                    if name != "public":
                        assert response.headers["cache-control"] == "private"
            assert seen == expected, name

        replies = f"{posts['public'].uri}/replies"
        assert (await unsigned(replies)).json()["orderedItems"] == []
        as_alice = (await remote.get_signed(replies, username="alice")).json()
        assert as_alice["orderedItems"] == [posts["reply"].uri]
        as_bob = (await remote.get_signed(replies, username="bob")).json()
        assert as_bob["orderedItems"] == []


@pytest.mark.parametrize("secure", [False, True])
async def test_a_bad_signature_on_a_get_shows_nothing_private(
    tmp_path: Path, remote: RemoteFediverse, secure: bool
) -> None:
    extra = "authorized_fetch = true" if secure else ""
    async with live_server(tmp_path / "ours", extra_toml=extra) as live:
        posts = await setup(live, remote)
        forger, _ = generate_rsa_key()
        for name, anonymous in (("followers", 404), ("public", 200)):
            response = await remote.get_signed(
                posts[name].uri, username="alice", private_key_pem=forger
            )
            # Secure mode refuses it; otherwise it is an anonymous fetch, as in Mastodon.
            assert response.status_code == (401 if secure else anonymous), name


async def test_a_signer_of_a_blocked_domain_is_refused(
    tmp_path: Path, remote: RemoteFediverse
) -> None:
    async with live_server(tmp_path / "ours", blocked_domains=[remote.host]) as live:
        carol = await live.account("carol")
        note = await publish.publish_note(live.state, carol, Draft(text="hello"))
        response = await remote.get_signed(note.uri, username="alice")
        assert response.status_code == 403
        assert (await unsigned(note.uri)).status_code == 200


async def test_secure_mode_wants_every_fetch_signed(
    tmp_path: Path, remote: RemoteFediverse
) -> None:
    async with live_server(tmp_path / "ours", extra_toml="authorized_fetch = true") as live:
        posts = await setup(live, remote)
        carol = (await live.account("carol")).actor.uri

        assert (await unsigned(posts["public"].uri)).status_code == 401
        assert (await unsigned(f"{carol}/followers")).status_code == 401
        assert (await unsigned(f"{carol}/outbox")).status_code == 401
        assert (await remote.get_signed(posts["public"].uri)).status_code == 200
        # The instance actor, whole: peers need it to check the signature of our own fetches.
        instance = (await unsigned(live.instance.actor.uri)).json()
        assert "publicKey" in instance and "summary" in instance
        # A user: what checking signatures and delivering take, without the profile.
        minimal = (await unsigned(carol)).json()
        assert minimal["publicKey"]["owner"] == carol and "inbox" in minimal
        assert "summary" not in minimal and "name" not in minimal
        assert "summary" in (await remote.get_signed(carol)).json()
