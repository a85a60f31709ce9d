"""Moderation from the web pages: a user blocks, mutes and reports (the report reaching the
remote server as a signed Flag); an admin sees the reports with their posts, suspends,
silences and removes posts, each checked in the pages, the database and on the wire."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.live import live_server
from support.remote import PUBLIC, remote_server

import fediverse_ai.state as state_module
from fediverse_ai.federation import interactions
from fediverse_ai.storage import actors, notes

from .support import Browserish
from .test_forms import logged_in
from .test_pages import html_path, post


async def test_block_and_mute_from_the_profile_hide_posts_and_notifications(
    tmp_path: Path,
) -> None:
    async with live_server(tmp_path) as server:
        web = await logged_in(server, "alice")
        alice, bob = await server.account("alice"), await server.account("bob")
        await interactions.follow(server.state, alice, bob.actor)
        await interactions.follow(server.state, bob, alice.actor)
        await server.drain()
        await post(server, "bob", "garden news from bob #gardens")
        await post(server, "bob", "@alice have you seen the roses")
        async with web, Browserish(server.base_url) as anonymous:

            async def pages() -> dict[str, str]:
                paths = ("/home", "/notifications", "/", "/tags/gardens")
                return {p: (await web.get(p)).text for p in paths}

            before = await pages()
            assert all("garden news" in before[p] for p in ("/home", "/", "/tags/gardens"))
            assert "have you seen the roses" in before["/notifications"]
            profile = (await web.get("/@bob")).text
            assert f'action="/accounts/{bob.actor.id}/mute"' in profile
            # When Alice mutes Bob from his profile
            resp = await web.submit("/@bob", f"/accounts/{bob.actor.id}/mute", {"next": "/@bob"})
            assert resp.status_code == 303 and resp.headers["location"] == "/@bob"
            assert f'action="/accounts/{bob.actor.id}/unmute"' in (await web.get("/@bob")).text
            # Then his posts leave her timelines, the public feeds she sees, her notifications
            muted = await pages()
            assert not any("garden news" in page for page in muted.values())
            assert "roses" not in muted["/notifications"]
            # but not anybody else's, and the follow stays
            assert "garden news" in (await anonymous.get("/")).text
            assert await server.count("SELECT COUNT(*) FROM follows") == 2
            await web.submit("/@bob", f"/accounts/{bob.actor.id}/unmute")
            assert "garden news" in (await web.get("/home")).text
            # When she blocks him, follows end both ways, as in Mastodon, and he is hidden
            await web.submit("/@bob", f"/accounts/{bob.actor.id}/block")
            assert await server.count("SELECT COUNT(*) FROM follows") == 0
            blocked = await pages()
            assert not any("garden news" in page for page in blocked.values())
            assert f'action="/accounts/{bob.actor.id}/unblock"' in (await web.get("/@bob")).text
            await web.submit("/@bob", f"/accounts/{bob.actor.id}/unblock")
            assert "garden news" in (await web.get("/")).text
            # Acting on oneself or on nobody is refused without a 500
            own = await web.submit("/@alice", f"/accounts/{alice.actor.id}/block")
            assert own.status_code == 400
            missing = await web.submit("/@alice", "/accounts/999999/mute")
            assert missing.status_code == 404
            odd = await web.submit("/@alice", f"/accounts/{bob.actor.id}/explode")
            assert odd.status_code == 404
            # And without the CSRF token nothing happens
            forged = await web.client.post(
                f"/accounts/{bob.actor.id}/block", headers={"Origin": server.base_url}
            )
            assert forged.status_code == 403
            assert await server.count("SELECT COUNT(*) FROM blocks") == 0


async def test_a_remote_block_from_the_web_is_federated(tmp_path: Path) -> None:
    async with live_server(tmp_path / "ours") as server, remote_server() as remote:
        web = await logged_in(server, "alice")
        account = await server.account("alice")
        await remote.send(server.shared_inbox, remote.activity("bob", "Follow", account.actor.uri))
        note = remote.note("bob", "<p>a remote hello</p>", to=[PUBLIC])
        await remote.send(server.shared_inbox, remote.activity("bob", "Create", note))
        await server.drain()
        bob = await actors.by_uri(server.state.db, remote.actor_uri("bob"))
        assert bob is not None
        async with web:
            profile = f"/@bob@{bob.domain}"
            assert "a remote hello" in (await web.get(profile)).text
            resp = await web.submit(profile, f"/accounts/{bob.id}/block", {"next": profile})
            assert resp.status_code == 303
            await server.drain()
            (block,) = remote.posts(type="Block")
            assert block.verified and block.activity is not None
            assert block.activity["actor"] == account.actor.uri
            assert block.activity["object"] == bob.uri
            assert await server.count("SELECT COUNT(*) FROM follows") == 0


async def test_reporting_a_remote_post_forwards_a_flag_signed_by_the_instance(
    tmp_path: Path,
) -> None:
    async with live_server(tmp_path / "ours") as server, remote_server() as remote:
        web = await logged_in(server, "alice")
        admin = await logged_in(server, "root", admin=True)
        note = remote.note("bob", "<p>buy cheap watches</p>", to=[PUBLIC])
        await remote.send(server.shared_inbox, remote.activity("bob", "Create", note))
        await server.drain()
        stored = await notes.by_uri(server.state.db, note["id"])
        assert stored is not None
        async with web, admin:
            thread = (await web.get(f"/notes/{stored.id}")).text
            assert f'href="/notes/{stored.id}/report"' in thread
            form = (await web.get(f"/notes/{stored.id}/report")).text
            assert "buy cheap watches" in form and 'name="forward"' in form
            # When Alice reports it, forwarding it to Bob's server
            resp = await web.submit(
                f"/notes/{stored.id}/report",
                f"/notes/{stored.id}/report",
                {"comment": "spam, every hour", "forward": "1"},
            )
            assert resp.status_code == 200 and 'id="report-sent"' in resp.text
            await server.drain()
            # Then Bob's server gets Mastodon's Flag: from our instance actor (Alice stays
            # anonymous), naming the account then the post, with her comment
            (flag,) = remote.posts(type="Flag")
            assert flag.verified and flag.signer == server.instance.actor.uri
            assert flag.path == "/users/bob/inbox"
            assert flag.activity is not None
            assert flag.activity["actor"] == server.instance.actor.uri
            assert flag.activity["object"] == [remote.actor_uri("bob"), note["id"]]
            assert flag.activity["content"] == "spam, every hour"
            assert "alice" not in flag.body.decode()
            # And our admin sees a local report, with the post, and can resolve it
            page = (await admin.get("/admin")).text
            assert "Local report" in page and "spam, every hour" in page
            assert "buy cheap watches" in page and "(forwarded to its server)" in page
            (report_id,) = [r[0] for r in await server.state.db.fetchall("SELECT id FROM reports")]
            await admin.submit("/admin", f"/admin/reports/{report_id}/resolve")
            assert "spam, every hour" not in (await admin.get("/admin")).text
            # A report without forwarding stays here
            await web.submit(f"/notes/{stored.id}/report", f"/notes/{stored.id}/report")
            await server.drain()
            assert len(remote.posts(type="Flag")) == 1
            assert await server.count("SELECT COUNT(*) FROM reports WHERE forwarded = 0") == 1
            # A comment over the limit is refused, as a 400 with a message
            long = await web.submit(
                f"/notes/{stored.id}/report", f"/notes/{stored.id}/report", {"comment": "x" * 1001}
            )
            assert long.status_code == 400
            # An account is reported from its profile, without a post: the Flag names it alone
            bob = await actors.by_uri(server.state.db, remote.actor_uri("bob"))
            assert bob is not None
            profile = (await web.get(f"/@bob@{bob.domain}")).text
            assert f'href="/accounts/{bob.id}/report"' in profile
            page = f"/accounts/{bob.id}/report"
            sent = await web.submit(page, page, {"comment": "a spam account", "forward": "1"})
            assert sent.status_code == 200 and 'id="report-sent"' in sent.text
            await server.drain()
            account_flag = remote.posts(type="Flag")[-1].activity
            assert account_flag is not None and account_flag["object"] == [bob.uri]
            alice = await server.account("alice")
            own = await web.submit(page, f"/accounts/{alice.actor.id}/report")
            assert own.status_code == 400


async def test_admin_suspends_a_local_user(tmp_path: Path) -> None:
    async with live_server(tmp_path) as server:
        admin = await logged_in(server, "root", admin=True)
        carol_web = await logged_in(server, "carol")
        carol = await server.account("carol")
        uri = await post(server, "carol", "carol writes something questionable")
        await post(server, "dave", "dave writes")
        async with admin, carol_web, Browserish(server.base_url) as anonymous:
            assert (await carol_web.get("/home")).status_code == 200
            resp = await admin.submit("/admin", f"/admin/accounts/{carol.actor.id}/suspend")
            assert resp.status_code == 303
            # Her session ends and she cannot log in again
            assert (await carol_web.get("/home")).status_code == 303
            refused = await carol_web.login("carol")
            assert refused.status_code == 401 and "suspended" in refused.text
            # Her posts are hidden and answer 403, as her profile does; her actor says why
            feed = (await anonymous.get("/")).text
            assert "questionable" not in feed and "dave writes" in feed
            assert (await anonymous.get(html_path(server, uri))).status_code == 404
            assert (await anonymous.get("/@carol")).status_code == 403
            assert (await server.get_as2(carol.actor.uri)).json()["suspended"] is True
            assert (await server.get_as2(uri)).status_code == 403
            # The admin page lists her, and the suspension can be lifted
            page = (await admin.get("/admin")).text
            assert "@carol@" in page and f"/admin/accounts/{carol.actor.id}/unsuspend" in page
            await admin.submit("/admin", f"/admin/accounts/{carol.actor.id}/unsuspend")
            assert (await carol_web.login("carol")).status_code == 303
            assert "questionable" in (await anonymous.get("/")).text
            # Built-in actors cannot be suspended; non-admins cannot moderate
            ai = await admin.submit("/admin", f"/admin/accounts/{server.ai.actor.id}/suspend")
            assert ai.status_code == 400
            denied = await carol_web.submit("/home", f"/admin/accounts/{carol.actor.id}/suspend")
            assert denied.status_code == 403


async def test_admin_silences_and_removes_posts(tmp_path: Path) -> None:
    async with live_server(tmp_path / "ours") as server, remote_server() as remote:
        admin = await logged_in(server, "root", admin=True)
        follower = await logged_in(server, "erin")
        erin, frank = await server.account("erin"), await server.account("frank")
        await interactions.follow(server.state, erin, frank.actor)
        await remote.send(server.shared_inbox, remote.activity("bob", "Follow", frank.actor.uri))
        await server.drain()
        loud = await post(server, "frank", "frank shouts #news")
        async with admin, follower, Browserish(server.base_url) as anonymous:
            await admin.submit("/admin", f"/admin/accounts/{frank.actor.id}/silence")
            # Silenced: off the public feed and hashtag page, still in his followers' homes
            assert "frank shouts" not in (await anonymous.get("/")).text
            assert "frank shouts" not in (await anonymous.get("/tags/news")).text
            assert "frank shouts" in (await follower.get("/home")).text
            assert "frank shouts" in (await anonymous.get(html_path(server, loud))).text
            api = (await anonymous.get("/api/v1/timelines/public")).json()
            assert loud not in [s["uri"] for s in api]
            await admin.submit("/admin", f"/admin/accounts/{frank.actor.id}/unsilence")
            assert "frank shouts" in (await anonymous.get("/")).text
            # Removing his post deletes it and federates the Delete to his followers
            stored = await notes.by_uri(server.state.db, loud)
            assert stored is not None
            resp = await admin.submit("/admin", f"/admin/notes/{stored.id}/remove")
            assert resp.status_code == 303
            assert await notes.by_uri(server.state.db, loud) is None
            await server.drain()
            (delete,) = remote.posts(type="Delete")
            assert delete.verified and delete.activity is not None
            assert delete.activity["object"]["id"] == loud
            assert delete.activity["actor"] == frank.actor.uri
            # A remote post is deleted here only, and a copy arriving later is not stored
            note = remote.note("bob", "<p>remote rubbish</p>", to=[PUBLIC])
            await remote.send(server.shared_inbox, remote.activity("bob", "Create", note))
            await server.drain()
            theirs = await notes.by_uri(server.state.db, note["id"])
            assert theirs is not None
            await admin.submit("/admin", f"/admin/notes/{theirs.id}/remove")
            assert await notes.by_uri(server.state.db, note["id"]) is None
            await remote.send(server.shared_inbox, remote.activity("bob", "Create", note))
            await server.drain()
            assert await notes.by_uri(server.state.db, note["id"]) is None
            assert len(remote.posts(type="Delete")) == 1
            missing = await admin.submit("/admin", "/admin/notes/999999/remove")
            assert missing.status_code == 404


async def test_a_suspended_remote_account_is_refused_at_the_inbox(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The test drains with its own State, as a separate worker process would, which sees a
    # suspension made by the server within seconds; here at once.
    monkeypatch.setattr(state_module, "BLOCKS_TTL_SECONDS", 0.0)
    async with live_server(tmp_path / "ours") as server, remote_server() as remote:
        admin = await logged_in(server, "root", admin=True)
        first = remote.note("bob", "<p>before the suspension</p>", to=[PUBLIC])
        await remote.send(server.shared_inbox, remote.activity("bob", "Create", first))
        await server.drain()
        bob = await actors.by_uri(server.state.db, remote.actor_uri("bob"))
        assert bob is not None
        # A Create queued before the suspension is dropped by the worker too
        queued = remote.note("bob", "<p>queued</p>", to=[PUBLIC])
        await remote.send(server.shared_inbox, remote.activity("bob", "Create", queued))
        async with admin, Browserish(server.base_url) as anonymous:
            await admin.submit("/admin", f"/admin/accounts/{bob.id}/suspend")
            await server.drain()
            assert await notes.by_uri(server.state.db, queued["id"]) is None
            later = remote.note("bob", "<p>after the suspension</p>", to=[PUBLIC])
            refused = await remote.send(
                server.shared_inbox, remote.activity("bob", "Create", later)
            )
            assert refused.status_code == 403
            api = (await anonymous.get("/api/v1/timelines/public?remote=true")).json()
            assert first["id"] not in [s["uri"] for s in api]
            stored = await notes.by_uri(server.state.db, first["id"])
            assert stored is not None
            assert (await anonymous.get(f"/notes/{stored.id}")).status_code == 404
            # Alice, another remote user, is still heard
            other = remote.note("alice", "<p>alice is fine</p>", to=[PUBLIC])
            accepted = await remote.send(
                server.shared_inbox, remote.activity("alice", "Create", other)
            )
            assert accepted.status_code == 202
            await admin.submit("/admin", f"/admin/accounts/{bob.id}/unsuspend")
            again = await remote.send(server.shared_inbox, remote.activity("bob", "Create", later))
            assert again.status_code == 202
