"""Every page that shows a note applies the rule of ``/notes/ID`` (``timelines.viewer_can_see``):
notifications, reply counts and threads never reveal a reply the viewer may not see."""

from __future__ import annotations

import re
from pathlib import Path

from support.live import LiveServer, live_server
from support.remote import PUBLIC, RemoteFediverse, remote_server

from fediverse_ai.federation import publish
from fediverse_ai.models import Draft
from fediverse_ai.storage import follows, notes, timelines

from .support import Browserish, make_user


async def _deliver_reply(
    server: LiveServer,
    remote: RemoteFediverse,
    text: str,
    *,
    to: list[str],
    cc: list[str],
    in_reply_to: str,
    mention: str | None = None,
) -> int:
    tag = [{"type": "Mention", "href": mention, "name": "@someone"}] if mention else []
    note = remote.note("bob", f"<p>{text}</p>", to=to, cc=cc, tag=tag, inReplyTo=in_reply_to)
    resp = await remote.send(server.shared_inbox, remote.activity("bob", "Create", note))
    assert resp.status_code == 202
    await server.drain()
    note_id = await server.count("SELECT id FROM notes WHERE uri = ?", [note["id"]])
    assert note_id, "the reply was not stored"
    return note_id


def _replies_shown(page: str, note_id: int) -> int:
    card = page[page.index(f'id="note-{note_id}"') :]
    found = re.search(r">(\d+) repl(?:y|ies)</a>", card)
    assert found, "no reply count on the card"
    return int(found.group(1))


async def test_a_direct_reply_to_someone_else_is_not_in_notifications_nor_counted(
    tmp_path: Path,
) -> None:
    async with live_server(tmp_path) as server, remote_server() as remote:
        await make_user(server, "alice")
        await make_user(server, "carol")
        carol = await server.account("carol")
        alice = await server.account("alice")
        root = await publish.publish_note(server.state, alice, Draft(text="alice asks a question"))
        secret = await _deliver_reply(
            server,
            remote,
            "a secret only for carol",
            to=[carol.actor.uri],
            cc=[],
            in_reply_to=root.uri,
            mention=carol.actor.uri,
        )
        stored = await notes.by_id(server.state.db, secret)
        assert stored is not None and stored.visibility == "direct"
        await _deliver_reply(
            server,
            remote,
            "an answer for everyone",
            to=[PUBLIC],
            cc=[remote.followers("bob")],
            in_reply_to=root.uri,
        )
        async with Browserish(server.base_url) as web:
            await web.login("alice")
            assert (await web.get(f"/notes/{secret}")).status_code == 404
            page = (await web.get("/notifications")).text
            assert "an answer for everyone" in page  # replies do notify...
            assert "a secret only for carol" not in page  # ...but not the hidden one
            assert page.count("replied to your post") == 1
            thread = (await web.get(html_path(server, root.uri))).text
            assert "a secret only for carol" not in thread
            assert _replies_shown(thread, root.id) == 1
        async with Browserish(server.base_url) as web:
            await web.login("carol")
            assert "a secret only for carol" in (await web.get(f"/notes/{secret}")).text
            # Mastodon counts public and unlisted replies only, the same for everyone.
            thread = (await web.get(html_path(server, root.uri))).text
            assert "a secret only for carol" in thread
            assert _replies_shown(thread, root.id) == 1


def html_path(server: LiveServer, uri: str) -> str:
    return uri.removeprefix(server.base_url).replace("/users/", "/@").replace("/statuses/", "/")


async def test_the_sql_rule_and_viewer_can_see_agree_on_every_case(tmp_path: Path) -> None:
    """Notifications and reply lists filter in SQL, /notes/ID asks ``viewer_can_see``: the same
    answers for every visibility, mention and follow state (a pending follow sees nothing more)."""
    async with live_server(tmp_path) as server:
        db = server.state.db
        author = await server.account("author")
        viewer = await server.account("viewer")
        other = await server.account("other")
        cases = {
            # (visibility, viewer mentioned, viewer's follow of the author): may the viewer see it?
            ("public", False, None): True,
            ("unlisted", False, None): True,
            ("followers", False, None): False,
            ("followers", False, "pending"): False,
            ("followers", False, "accepted"): True,
            ("followers", True, None): True,
            ("direct", False, None): False,
            ("direct", False, "accepted"): False,
            ("direct", True, None): True,
        }
        for (vis, mentioned, relation), allowed in cases.items():
            await follows.remove(db, viewer.actor.id, author.actor.id)
            if relation is not None:
                await follows.upsert(
                    db,
                    follower_id=viewer.actor.id,
                    followee_id=author.actor.id,
                    uri=None,
                    state=relation,
                    now=server.state.now(),
                )
            text = f"{vis} @viewer@{server.config.instance.host}" if mentioned else vis
            note = await publish.publish_note(
                server.state,
                author,
                Draft(text=text, visibility=vis),  # type: ignore[arg-type]
            )
            is_public = vis in ("public", "unlisted")
            for who, want in ((viewer, allowed), (author, True), (other, is_public)):
                by_python = await timelines.viewer_can_see(db, note, who.actor.id, who.actor.uri)
                by_sql = note.id in await timelines.visible_note_ids(
                    db, [note.id], who.actor.id, who.actor.uri
                )
                assert by_python == by_sql == want, (vis, mentioned, relation, who.actor.username)
            anonymous = await timelines.visible_note_ids(db, [note.id], None, None)
            assert (note.id in anonymous) == is_public
            assert await timelines.viewer_can_see(db, note, None, None) == is_public
