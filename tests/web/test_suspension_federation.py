"""What an admin's suspension tells the fediverse, checked on the wire as Mastodon does it.

Given our server and a stand-in peer on loopback: when a local account is suspended, its
followers' servers get an ``Update`` of the actor carrying ``suspended: true`` and no profile,
its actor is still served (marked so) while its posts and collections answer 403, and it
sends nothing else but the Deletes of what is removed; lifting the suspension sends the
whole actor again. When a remote account is suspended, its follows with local accounts end
(a ``Reject`` for each of its follows, an ``Undo`` for each of ours) and stay ended when it
is lifted; a domain's block ends them with nothing sent there.
"""

from __future__ import annotations

from pathlib import Path

from support.live import LiveServer, live_server
from support.remote import PUBLIC, remote_server

from fediverse_ai.federation import interactions, severing
from fediverse_ai.storage import actors, notes
from fediverse_ai.vocab import EXTENSION_CONTEXT

from .test_forms import logged_in
from .test_pages import post


async def _follows_with(server: LiveServer, actor_id: int) -> int:
    return await server.count(
        "SELECT COUNT(*) FROM follows WHERE follower_id = ? OR followee_id = ?",
        (actor_id, actor_id),
    )


async def test_a_local_suspension_is_told_by_an_update_and_lifted_the_same_way(
    tmp_path: Path,
) -> None:
    async with live_server(tmp_path / "ours") as server, remote_server() as remote:
        admin = await logged_in(server, "root", admin=True)
        carol = await server.account("carol")
        await remote.send(server.shared_inbox, remote.activity("bob", "Follow", carol.actor.uri))
        await server.drain()
        uri = await post(server, "carol", "carol writes something questionable")
        worse = await post(server, "carol", "carol writes something worse")
        await server.drain()
        assert len(remote.posts(type="Accept")) == 1 and len(remote.posts(type="Create")) == 2
        async with admin:
            resp = await admin.submit("/admin", f"/admin/accounts/{carol.actor.id}/suspend")
            assert resp.status_code == 303
            await server.drain()
            # Then Bob's server is told, by Carol's own signed Update of her actor
            (update,) = remote.posts(type="Update")
            assert update.verified and update.signer == carol.actor.uri
            sent = update.activity
            assert sent is not None and sent["object"]["suspended"] is True
            assert sent["object"]["name"] == "" and "icon" not in sent["object"]
            assert EXTENSION_CONTEXT["suspended"] == "toot:suspended"
            # Her actor is still served, marked suspended; her posts and collections are 403
            actor = await server.get_as2(carol.actor.uri)
            assert actor.status_code == 200 and actor.json()["suspended"] is True
            assert actor.json()["publicKey"]["publicKeyPem"] == carol.actor.public_key_pem
            for url in (uri, f"{carol.actor.uri}/outbox", f"{carol.actor.uri}/followers"):
                assert (await server.get_as2(url)).status_code == 403, url
            assert (await admin.get("/@carol")).status_code == 403
            # She sends nothing while suspended: a new follower gets no Accept
            follow = remote.activity("alice", "Follow", carol.actor.uri)
            await remote.send(server.shared_inbox, follow)
            await server.drain()
            assert len(remote.posts(type="Accept")) == 1
            # but what the admin removes meanwhile is deleted on the other servers too
            removed = await notes.by_uri(server.state.db, worse)
            assert removed is not None
            await admin.submit("/admin", f"/admin/notes/{removed.id}/remove")
            await server.drain()
            (delete,) = remote.posts(type="Delete")
            assert delete.activity is not None and delete.activity["object"]["id"] == worse
            # When the suspension is lifted, the whole actor goes out again
            await admin.submit("/admin", f"/admin/accounts/{carol.actor.id}/unsuspend")
            await server.drain()
            lifted = remote.posts(type="Update")[-1].activity
            assert lifted is not None and "suspended" not in lifted["object"]
            assert lifted["object"]["name"] == carol.actor.display_name
            assert (await server.get_as2(uri)).status_code == 200
            assert "suspended" not in (await server.get_as2(carol.actor.uri)).json()


async def test_a_remote_suspension_ends_the_follows_both_ways_for_good(tmp_path: Path) -> None:
    async with live_server(tmp_path / "ours") as server, remote_server() as remote:
        admin = await logged_in(server, "root", admin=True)
        frank, erin = await server.account("frank"), await server.account("erin")
        bob_follow = remote.activity("bob", "Follow", frank.actor.uri)
        await remote.send(server.shared_inbox, bob_follow)
        await server.drain()
        bob = await actors.by_uri(server.state.db, remote.actor_uri("bob"))
        assert bob is not None
        await interactions.follow(server.state, erin, bob)
        await server.drain()
        (erin_follow,) = remote.posts(type="Follow")
        assert await _follows_with(server, bob.id) == 2
        async with admin:
            await admin.submit("/admin", f"/admin/accounts/{bob.id}/suspend")
            await server.drain()
            # Then both follows are gone, Bob's answered by Frank's Reject, Erin's undone
            assert await _follows_with(server, bob.id) == 0
            (reject,) = remote.posts(type="Reject")
            assert reject.verified and reject.signer == frank.actor.uri
            assert (
                reject.activity is not None and reject.activity["object"]["id"] == bob_follow["id"]
            )
            (undo,) = remote.posts(type="Undo")
            assert undo.signer == erin.actor.uri and erin_follow.activity is not None
            assert undo.activity is not None
            assert undo.activity["object"]["id"] == erin_follow.activity["id"]
            # A second run of the job (a crash before it was marked done) sends nothing more
            await severing.sever(server.state, {"actor_id": bob.id})
            await server.drain()
            assert len(remote.posts(type="Reject")) == 1 and len(remote.posts(type="Undo")) == 1
            # Lifting the suspension restores no follow, and a job left from before does nothing
            await admin.submit("/admin", f"/admin/accounts/{bob.id}/unsuspend")
            await remote.send(
                server.shared_inbox, remote.activity("bob", "Follow", frank.actor.uri)
            )
            await server.drain()
            await severing.sever(server.state, {"actor_id": bob.id})
            assert await _follows_with(server, bob.id) == 1
            assert len(remote.posts(type="Reject")) == 1


async def test_a_domain_block_ends_the_follows_with_its_accounts_and_sends_nothing(
    tmp_path: Path,
) -> None:
    async with (
        live_server(tmp_path / "ours") as server,
        remote_server(host="127.0.0.6") as remote,
        remote_server(("carl",), host="127.0.0.7") as elsewhere,
    ):
        admin = await logged_in(server, "root", admin=True)
        frank = await server.account("frank")
        for peer, name in ((remote, "alice"), (remote, "bob"), (elsewhere, "carl")):
            await peer.send(server.shared_inbox, peer.activity(name, "Follow", frank.actor.uri))
        await server.drain()
        alice = await actors.by_uri(server.state.db, remote.actor_uri("alice"))
        assert alice is not None
        await interactions.follow(server.state, frank, alice)
        await server.drain()
        assert await server.count("SELECT COUNT(*) FROM follows") == 4
        note = remote.note("alice", "<p>still here</p>", to=[PUBLIC])
        async with admin:
            resp = await admin.submit("/admin", "/admin/domain-blocks", {"domain": "127.0.0.6"})
            assert resp.status_code == 303
            await server.drain()
            # Then only Carl's follow, on another server, is left, and nothing went to the domain
            carl = await actors.by_uri(server.state.db, elsewhere.actor_uri("carl"))
            assert carl is not None
            assert await server.count("SELECT COUNT(*) FROM follows") == 1
            assert await _follows_with(server, carl.id) == 1
            assert not remote.posts(type="Reject") and not remote.posts(type="Undo")
            refused = await remote.send(
                server.shared_inbox, remote.activity("alice", "Create", note)
            )
            assert refused.status_code == 403
