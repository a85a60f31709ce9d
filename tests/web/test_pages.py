"""The public pages over HTTP: feed and pagination, gallery, profiles, threads with remote
replies, hashtags, about, visibility, security headers and blurhash placeholders."""

from __future__ import annotations

import io
import re
from pathlib import Path

import httpx
from PIL import Image
from support.live import LiveServer, live_server
from support.remote import PUBLIC, remote_server

from fediverse_ai.federation import publish
from fediverse_ai.media import process_image
from fediverse_ai.models import Draft, NewAttachment

from .support import Browserish, make_user


def png(color: tuple[int, int, int], size: tuple[int, int] = (120, 80)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, format="PNG")
    return out.getvalue()


def attachment(color: tuple[int, int, int], alt: str, *, ai: bool = False) -> NewAttachment:
    return process_image(png(color)).as_attachment(alt, ai_generated=ai)


async def post(server: LiveServer, username: str, text: str, **kw: object) -> str:
    account = await server.account(username)
    note = await publish.publish_note(server.state, account, Draft(text=text, **kw))  # type: ignore[arg-type]
    return note.uri


def html_path(server: LiveServer, uri: str) -> str:
    """/users/NAME/statuses/ID -> /@NAME/ID, the note's page."""
    return uri.removeprefix(server.base_url).replace("/users/", "/@").replace("/statuses/", "/")


def alternate(page: str) -> str | None:
    found = re.search(
        r'<link rel="alternate" type="application/activity\+json" href="([^"]+)">', page
    )
    return found.group(1) if found else None


async def test_feed_is_newest_first_with_a_cursor_and_hides_non_public_posts(
    tmp_path: Path,
) -> None:
    async with live_server(tmp_path) as server, Browserish(server.base_url) as web:
        for i in range(25):
            await post(server, "alice", f"post number {i:02d}")
        await post(server, "alice", "secret for followers", visibility="followers")
        await post(server, "alice", "quiet unlisted", visibility="unlisted")
        first = (await web.get("/")).text
        shown = re.findall(r"post number (\d\d)", first)
        assert shown == [f"{i:02d}" for i in range(24, 4, -1)]
        assert "secret for followers" not in first and "quiet unlisted" not in first
        nxt = re.search(r'href="(/\?before=\d+)" rel="next"', first)
        assert nxt
        second = (await web.get(nxt.group(1))).text
        assert re.findall(r"post number (\d\d)", second) == ["04", "03", "02", "01", "00"]
        assert 'rel="next"' not in second


async def test_profile_shows_counts_fields_media_tab_and_resolves_for_mastodon(
    tmp_path: Path,
) -> None:
    async with live_server(tmp_path) as server, Browserish(server.base_url) as web:
        await post(server, "alice", "just words")
        await post(
            server,
            "alice",
            "with a picture",
            attachments=(attachment((200, 30, 30), "a red rectangle"),),
        )
        page = await web.get("/@alice")
        assert page.status_code == 200
        assert alternate(page.text) == f"{server.base_url}/users/alice"
        assert "<strong>2</strong> posts" in page.text
        assert 'value="@alice@127.0.0.1"' in page.text  # the copyable handle
        assert "Follow from your instance" in page.text
        media_tab = (await web.get("/@alice/media")).text
        assert "with a picture" in media_tab and "just words" not in media_tab
        assert 'alt="a red rectangle"' in media_tab
        assert (await web.get("/@nobody")).status_code == 404


async def test_gallery_lists_ai_images_linking_to_their_posts_with_placeholders(
    tmp_path: Path,
) -> None:
    async with live_server(tmp_path) as server, Browserish(server.base_url) as web:
        ai_uri = await post(
            server,
            "ai",
            "a generated sunset",
            attachments=(attachment((250, 120, 20), "an orange sunset", ai=True),),
            ai_generated=True,
        )
        await post(server, "alice", "my own photo", attachments=(attachment((0, 0, 255), "blue"),))
        page = (await web.get("/gallery")).text
        assert 'alt="an orange sunset"' in page
        assert 'alt="blue"' not in page  # not AI-generated
        status_id = ai_uri.rsplit("/", 1)[1]
        assert f'href="/@ai/{status_id}"' in page
        placeholder = re.search(r'class="ph" src="(/blurhash/[^"]+\.png)"', page)
        assert placeholder
        resp = await web.get(placeholder.group(1))
        assert resp.status_code == 200 and resp.headers["content-type"] == "image/png"
        assert "immutable" in resp.headers["cache-control"]
        with Image.open(io.BytesIO(resp.content)) as img:
            r, g, b = img.convert("RGB").resize((1, 1)).getpixel((0, 0))
        # The placeholder has the picture's colour (blurhash is lossy: a tolerance).
        assert abs(r - 250) < 25 and abs(g - 120) < 25 and abs(b - 20) < 25
        assert (await web.get("/blurhash/not-a-hash.png")).status_code == 404


async def test_thread_page_shows_ancestors_and_remote_replies_in_order(tmp_path: Path) -> None:
    async with (
        live_server(tmp_path) as server,
        remote_server() as remote,
        Browserish(server.base_url) as web,
    ):
        root = await post(server, "alice", "root of the thread")
        middle = await post(server, "bob", "a local reply", in_reply_to=root)
        reply = remote.note(
            "alice",
            "<p>a remote reply from afar</p>",
            to=[PUBLIC],
            inReplyTo=middle,
        )
        resp = await remote.send(server.shared_inbox, remote.activity("alice", "Create", reply))
        assert resp.status_code == 202
        await server.drain()
        page = (await web.get(html_path(server, middle))).text
        main = page[page.index("<main") :]
        order = [main.index(t) for t in ("root of the thread", "a local reply", "a remote reply")]
        assert order == sorted(order)
        assert alternate(page) == middle
        assert 'class="card focus' in page
        remote_id = await server.count("SELECT id FROM notes WHERE uri = ?", [reply["id"]])
        remote_page = await web.get(f"/notes/{remote_id}")
        assert remote_page.status_code == 200 and "a remote reply from afar" in remote_page.text
        assert alternate(remote_page.text) == reply["id"]


async def test_followers_only_posts_are_shown_to_followers_and_the_author_only(
    tmp_path: Path,
) -> None:
    async with live_server(tmp_path) as server:
        await make_user(server, "alice")
        await make_user(server, "carol")
        uri = await post(server, "alice", "only for my followers", visibility="followers")
        path = html_path(server, uri)
        async with Browserish(server.base_url) as anon:
            assert (await anon.get(path)).status_code == 404
        async with Browserish(server.base_url) as carol:
            await carol.login("carol")
            assert (await carol.get(path)).status_code == 404
        async with Browserish(server.base_url) as alice:
            await alice.login("alice")
            page = await alice.get(path)
            assert page.status_code == 200 and "only for my followers" in page.text
            # Not resolvable by Mastodon: no public alternate for a private post.
            assert alternate(page.text) is None
        # The AS2 document stays private too.
        as2 = await server.get_as2(uri)
        assert as2.status_code == 404


async def test_hashtag_and_about_pages(tmp_path: Path) -> None:
    async with live_server(tmp_path) as server, Browserish(server.base_url) as web:
        await post(server, "alice", "I love #Gardening today")
        await post(server, "alice", "nothing tagged")
        tag = (await web.get("/tags/gardening")).text
        assert "I love" in tag and "nothing tagged" not in tag
        about = (await web.get("/about")).text
        assert "@ai@127.0.0.1" in about
        assert "SmolLM2-135M" in about and "procedural painter" in about
        assert "#nobot" in about


async def test_pages_send_security_headers_and_a_csp_without_inline_code(tmp_path: Path) -> None:
    async with live_server(tmp_path) as server, Browserish(server.base_url) as web:
        for path in ("/", "/gallery", "/about", "/@ai", "/login"):
            resp = await web.get(path)
            assert resp.status_code == 200, path
            csp = resp.headers["content-security-policy"]
            assert "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
            assert resp.headers["x-content-type-options"] == "nosniff"
            # One external script, local times in tooltips; no inline code, no inline style.
            scripts = resp.text.count("<script")
            assert scripts == resp.text.count('<script src="/static/time.js" defer></script>')
            assert scripts == 1 and " style=" not in resp.text
        script = await web.get("/static/time.js")
        assert script.status_code == 200 and script.headers["content-type"].startswith(
            "text/javascript"
        )
        css = await web.get("/static/style.css")
        assert css.status_code == 200 and "prefers-color-scheme: dark" in css.text
        assert (await web.get("/static/../config.toml")).status_code == 404


async def test_error_pages_are_html_for_browsers_and_json_for_peers(tmp_path: Path) -> None:
    async with live_server(tmp_path) as server, Browserish(server.base_url) as web:
        page = await web.get("/@ai/123456")
        assert page.status_code == 404 and "<h1>Not found</h1>" in page.text
        async with httpx.AsyncClient() as client:
            peer = await client.get(
                f"{server.base_url}/users/ai/statuses/123456",
                headers={"Accept": "application/activity+json"},
            )
        assert peer.status_code == 404 and peer.json() == {"error": "no such post"}


async def test_profile_shows_followers_only_posts_to_accepted_followers_only(
    tmp_path: Path,
) -> None:
    from fediverse_ai.federation import interactions
    from fediverse_ai.storage import actors, follows

    async with live_server(tmp_path) as server:
        await make_user(server, "carol")
        bob = await server.account("bob")
        await actors.update_local_profile(
            server.state.db,
            bob.actor.id,
            display_name="bob",
            summary="",
            manually_approves=True,
            now=server.state.now(),
        )
        carol = await server.account("carol")
        locked = await actors.local_by_username(server.state.db, "bob")
        assert locked is not None and locked.manually_approves
        await interactions.follow(server.state, carol, locked)
        await post(server, "bob", "for my followers only", visibility="followers")
        await post(server, "bob", "an unlisted aside", visibility="unlisted")
        async with Browserish(server.base_url) as web:
            await web.login("carol")
            pending = (await web.get("/@bob")).text
            assert "an unlisted aside" in pending
            assert "for my followers only" not in pending
            assert "Cancel follow request" in pending
            relation = await follows.get(server.state.db, carol.actor.id, bob.actor.id)
            assert relation is not None and relation.state == "pending"
            await follows.set_state(server.state.db, relation.id, "accepted")
            accepted = (await web.get("/@bob")).text
            assert "for my followers only" in accepted and "Unfollow" in accepted
