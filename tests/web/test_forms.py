"""Forms a logged-in user sends: compose with images, replies, edit, delete, like, boost,
follow, notifications, remote follow and the admin page — checked in the database and on the
wire (a signed remote peer on loopback receives what we deliver)."""

from __future__ import annotations

import html
import re
import time
from pathlib import Path

import httpx
from support.live import WATCHED_TABLES, LiveServer, live_server
from support.remote import PUBLIC, remote_server

from fediverse_ai.storage import notes

from .support import Browserish, make_user
from .test_pages import png, post


async def logged_in(server: LiveServer, username: str, *, admin: bool = False) -> Browserish:
    await make_user(server, username, admin=admin)
    web = Browserish(server.base_url)
    resp = await web.login(username)
    assert resp.status_code == 303
    return web


async def test_compose_with_two_images_and_alt_text_publishes_them(
    tmp_path: Path, both_stores: str
) -> None:
    async with live_server(tmp_path, extra_toml=both_stores) as server:
        web = await logged_in(server, "alice")
        async with web:
            resp = await web.submit(
                "/compose",
                "/compose",
                {
                    "text": "two squares #colours",
                    "alt0": "a red square",
                    "alt1": "a green square",
                    "summary": "",
                    "visibility": "public",
                    "action": "post",
                },
                files={
                    "image0": ("red.png", png((255, 0, 0)), "image/png"),
                    "image1": ("green.png", png((0, 255, 0)), "image/png"),
                },
            )
            assert resp.status_code == 303
            page = (await web.get(resp.headers["location"])).text
            assert 'alt="a red square"' in page and 'alt="a green square"' in page
            assert '/tags/colours"' in page
        rows = await server.state.db.fetchall(
            "SELECT m.description, m.width, m.blurhash FROM media m JOIN notes n"
            " ON n.id = m.note_id WHERE n.source LIKE 'two squares%' ORDER BY m.position"
        )
        assert [(r[0], r[1]) for r in rows] == [("a red square", 120), ("a green square", 120)]
        assert all(r[2] for r in rows)
        files = await server.state.db.fetchall(
            "SELECT m.url, m.file_name FROM media m JOIN notes n ON n.id = m.note_id"
            " WHERE n.source LIKE 'two squares%'"
        )
        async with httpx.AsyncClient() as http:
            for url, name in files:
                served = await http.get(url)
                assert served.status_code == 200 and served.headers["content-type"] == "image/png"
                assert served.content == server.state.media.get(name)


async def test_an_image_without_alt_text_is_refused_and_nothing_is_published(
    tmp_path: Path,
) -> None:
    async with live_server(tmp_path) as server:
        web = await logged_in(server, "alice")
        async with web:
            # The image is kept as an unattached upload for the next try (its expiry is a job).
            watched = [t for t in WATCHED_TABLES if t != "jobs"]
            before = await server.counts(watched)
            resp = await web.submit(
                "/compose",
                "/compose",
                {"text": "no description", "action": "post"},
                files={"image0": ("red.png", png((255, 0, 0)), "image/png")},
            )
            assert resp.status_code == 400
            assert "needs a description" in resp.text
            assert "no description" in resp.text  # the text typed is kept in the form
            broken = await web.submit(
                "/compose",
                "/compose",
                {"text": "broken", "alt0": "x", "action": "post"},
                files={"image0": ("x.png", b"not an image at all", "image/png")},
            )
            assert broken.status_code == 400 and "image 1" in broken.text
            assert await server.counts(watched) == before
            assert await server.count("SELECT count(*) FROM api_media") == 1


async def test_replies_are_never_wider_than_the_post_they_answer(tmp_path: Path) -> None:
    async with live_server(tmp_path) as server:
        web = await logged_in(server, "alice")
        await make_user(server, "bob")
        parent = await post(server, "bob", "@alice a quiet word", visibility="direct")
        async with web:
            form = await web.get(f"/compose?reply_to={parent}")
            assert form.status_code == 200
            assert '<option value="direct" selected>' in form.text
            assert "@bob " in form.text
            resp = await web.submit(
                "/compose",
                "/compose",
                {"text": "@bob hello back", "in_reply_to": parent, "visibility": "public"},
            )
            assert resp.status_code == 303
        reply = await server.state.db.fetchone(
            "SELECT visibility, in_reply_to_uri FROM notes WHERE source = '@bob hello back'"
        )
        assert reply is not None and tuple(reply) == ("direct", parent)


async def test_ask_ai_prefills_a_reply_that_mentions_the_ai_and_queues_its_answer(
    tmp_path: Path,
) -> None:
    async with live_server(tmp_path) as server:
        web = await logged_in(server, "alice")
        await make_user(server, "bob")
        parent = await post(server, "bob", "Photosynthesis is neat")
        async with web:
            form = await web.get(f"/compose?reply_to={parent}&ask=1")
            assert "Ask @ai about this post" in form.text
            assert "@ai @bob " in form.text
            resp = await web.submit(
                "/compose",
                "/compose",
                {"text": "@ai @bob what is this about?", "in_reply_to": parent, "ask": "1"},
            )
            assert resp.status_code == 303
        ask = await server.state.db.fetchone(
            "SELECT uri FROM notes WHERE source LIKE '@ai @bob what%'"
        )
        assert ask is not None
        job = await server.count(
            "SELECT COUNT(*) FROM jobs WHERE kind = 'ai_reply' AND dedupe_key = ?",
            [f"reply:{ask[0]}"],
        )
        assert job == 1


async def test_like_boost_edit_delete_reach_a_remote_follower(tmp_path: Path) -> None:
    async with live_server(tmp_path) as server, remote_server() as remote:
        web = await logged_in(server, "alice")
        alice = await server.account("alice")
        follow = remote.activity("bob", "Follow", alice.actor.uri)
        assert (await remote.send(server.inbox("alice"), follow)).status_code == 202
        await server.drain()
        uri = await post(server, "alice", "first version")
        note = await notes.by_uri(server.state.db, uri)
        assert note is not None
        theirs = remote.note("bob", "<p>remote thought</p>", to=[PUBLIC])
        await remote.send(server.shared_inbox, remote.activity("bob", "Create", theirs))
        await server.drain()
        remote_note = await notes.by_uri(server.state.db, theirs["id"])
        assert remote_note is not None
        async with web:
            page = f"/notes/{remote_note.id}"
            for action in ("like", "boost"):
                resp = await web.submit(page, f"/notes/{remote_note.id}/{action}", {"next": page})
                assert resp.status_code == 303 and resp.headers["location"] == page
            shown = (await web.get(page)).text
            assert "Liked 1" in shown and "Boosted 1" in shown
            resp = await web.submit(
                f"/edit/{note.id}", f"/edit/{note.id}", {"text": "second version"}
            )
            assert resp.status_code == 303
            resp = await web.submit("/home", f"/notes/{note.id}/delete")
            assert resp.status_code == 303 and resp.headers["location"] == "/home?done=deleted"
            # Someone else's post cannot be deleted or edited.
            other = await web.submit(page, f"/notes/{remote_note.id}/delete")
            assert other.status_code == 404
            assert (await web.get(f"/edit/{remote_note.id}")).status_code == 404
        await server.drain()
        kinds = [p.type for p in remote.posts()]
        for expected in ("Create", "Like", "Announce", "Update", "Delete"):
            assert expected in kinds, kinds
        assert await notes.by_uri(server.state.db, uri) is None


async def test_follow_form_and_notifications(tmp_path: Path) -> None:
    async with live_server(tmp_path) as server, remote_server() as remote:
        web = await logged_in(server, "alice")
        alice = await server.account("alice")
        async with web:
            resp = await web.submit("/home", "/follow", {"target": remote.handle("bob")})
            assert resp.status_code == 303
            assert resp.headers["location"] == f"/@bob@{remote.authority}"
            await server.drain()
            follows = [p for p in remote.posts() if p.type == "Follow"]
            assert len(follows) == 1
            # bob likes and mentions alice: both show up as notifications.
            mine = await post(server, "alice", "hello world")
            await remote.send(server.shared_inbox, remote.activity("bob", "Like", mine))
            mention = remote.note(
                "bob",
                "<p>@alice hi there</p>",
                to=[PUBLIC],
                tag=[{"type": "Mention", "href": alice.actor.uri, "name": "@alice"}],
            )
            await remote.send(server.shared_inbox, remote.activity("bob", "Create", mention))
            await server.drain()
            page = (await web.get("/notifications")).text
            assert "liked your post" in page and "mentioned you" in page
            profile = (await web.get(f"/@bob@{remote.authority}")).text
            assert "Cancel follow request" in profile or "Unfollow" in profile


async def test_remote_follow_sends_the_visitor_to_their_own_server(tmp_path: Path) -> None:
    async with (
        live_server(tmp_path) as server,
        remote_server() as remote,
        Browserish(server.base_url) as web,
    ):
        resp = await web.submit(
            "/@ai/remote_follow", "/@ai/remote_follow", {"handle": remote.handle("alice")}
        )
        assert resp.status_code == 303
        target = f"{server.base_url}/users/ai".replace(":", "%3A").replace("/", "%2F")
        assert resp.headers["location"] == (f"{remote.base_url}/authorize_interaction?uri={target}")
        bad = await web.submit(
            "/@ai/remote_follow", "/@ai/remote_follow", {"handle": "not a handle"}
        )
        assert bad.status_code == 400 and "not a fediverse handle" in bad.text


async def test_authorize_interaction_opens_remote_accounts_and_posts(tmp_path: Path) -> None:
    async with live_server(tmp_path) as server, remote_server() as remote:
        web = await logged_in(server, "alice")
        theirs = remote.note("alice", "<p>a post to open</p>", to=[PUBLIC])
        async with web:
            resp = await web.get(f"/authorize_interaction?uri={remote.actor_uri('bob')}")
            assert resp.status_code == 303
            assert resp.headers["location"] == f"/@bob@{remote.authority}"
            resp = await web.get(f"/authorize_interaction?uri={theirs['id']}")
            assert resp.status_code == 303
            page = (await web.get(resp.headers["location"])).text
            assert "a post to open" in page


async def test_admin_settings_domain_blocks_and_jobs(tmp_path: Path) -> None:
    async with live_server(tmp_path) as server, remote_server(host="127.0.0.5") as remote:
        web = await logged_in(server, "root", admin=True)
        async with web:
            resp = await web.submit(
                "/admin",
                "/admin/settings",
                {
                    "name": "Garden Club",
                    "description": "Plants and robots",
                    "rules": "Be kind\nNo spam",
                    "contact_email": "admin@example.org",
                },
            )
            assert resp.status_code == 303
            about = (await web.get("/about")).text
            assert "About Garden Club" in about and "<li>No spam</li>" in about
            bad = await web.submit("/admin", "/admin/domain-blocks", {"domain": "not a domain"})
            assert bad.status_code == 400
            resp = await web.submit(
                "/admin", "/admin/domain-blocks", {"domain": remote.authority.split(":")[0]}
            )
            assert resp.status_code == 303
            before = await server.counts()
            note = remote.note("alice", "<p>from a blocked place</p>", to=[PUBLIC])
            refused = await remote.send(
                server.shared_inbox, remote.activity("alice", "Create", note)
            )
            assert refused.status_code == 403
            assert await server.counts() == before
            today = time.strftime("%Y-%m-%d", time.gmtime(server.state.now()))
            await server.state.db.execute(
                "INSERT INTO ai_usage (day, count) VALUES (?, 3)", (today,)
            )
            page = (await web.get("/admin")).text
            assert "<code>127.0.0.5</code>" in page and "Job queue" in page
            assert "3 answers today (UTC) · 497 of 500 left in the daily budget" in page
            resp = await web.submit(
                "/admin", "/admin/domain-blocks/remove", {"domain": "127.0.0.5"}
            )
            assert resp.status_code == 303
            server.state.forget_blocked_domains()
            accepted = await remote.send(
                server.shared_inbox, remote.activity("alice", "Create", note)
            )
            assert accepted.status_code == 202


async def test_reports_from_remote_servers_reach_the_admin_page(tmp_path: Path) -> None:
    async with live_server(tmp_path) as server, remote_server() as remote:
        web = await logged_in(server, "root", admin=True)
        offending = await post(server, "root", "something controversial")
        flag = remote.activity("alice", "Flag", [offending], content="this breaks rule 2")
        flag["object"] = [offending]
        assert (await remote.send(server.shared_inbox, flag)).status_code == 202
        await server.drain()
        async with web:
            page = (await web.get("/admin")).text
            assert "this breaks rule 2" in page and offending in page
            report_id = await server.count("SELECT id FROM reports")
            resp = await web.submit("/admin", f"/admin/reports/{report_id}/resolve")
            assert resp.status_code == 303
            assert "this breaks rule 2" not in (await web.get("/admin")).text


async def test_home_timeline_has_followed_posts_boosts_and_mentions_only(tmp_path: Path) -> None:
    from fediverse_ai.federation import interactions

    async with live_server(tmp_path) as server:
        web = await logged_in(server, "alice")
        alice, bob = await server.account("alice"), await server.account("bob")
        await interactions.follow(server.state, alice, bob.actor)
        await server.drain()
        for i in range(22):
            await post(server, "bob", f"bob says {i:02d}")
        await post(server, "bob", "bob whispers to himself", visibility="direct")
        carols = await post(server, "carol", "carol's public thought")
        await post(server, "carol", "@alice a direct hello", visibility="direct")
        await post(server, "carol", "carol's unboosted thought")
        await interactions.boost(server.state, bob, carols)
        async with web:
            first = (await web.get("/home")).text
            assert "Boosted by" in first and "carol's public thought" in first
            assert "a direct hello" in first
            assert "whispers" not in first and "unboosted" not in first
            nxt = re.search(r'href="(/home\?before=[^"]+)" rel="next"', first)
            assert nxt
            second = (await web.get(html.unescape(nxt.group(1)))).text
            seen = re.findall(r"bob says (\d\d)", first) + re.findall(r"bob says (\d\d)", second)
            assert sorted(seen) == [f"{i:02d}" for i in range(22)]
            assert len(seen) == len(set(seen))


async def test_posts_the_viewer_cannot_see_cannot_be_liked_or_answered(tmp_path: Path) -> None:
    async with live_server(tmp_path) as server:
        web = await logged_in(server, "alice")
        hidden = await post(server, "bob", "@carol just between us", visibility="direct")
        note = await notes.by_uri(server.state.db, hidden)
        assert note is not None
        async with web:
            before = await server.counts()
            assert (await web.submit("/home", f"/notes/{note.id}/like")).status_code == 404
            assert (await web.get(f"/compose?reply_to={hidden}")).status_code == 404
            assert (await web.get(f"/notes/{note.id}")).status_code == 404
            assert await server.counts() == before
