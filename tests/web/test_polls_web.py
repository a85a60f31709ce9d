"""Polls from the web: voting in a post card (one signed ``Create{Note{name}}`` per choice,
to the poll author's inbox only), shown as voted with no second vote, and polls composed
by our users (published as ``Question``), checked on our pages and on the wire."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

from support.live import LiveServer, live_server
from support.remote import PUBLIC, RemoteFediverse, remote_server

from fediverse_ai.storage import notes, polls
from fediverse_ai.vocab import format_time

from .support import Browserish, make_user


async def logged_in(server: LiveServer, username: str) -> Browserish:
    await make_user(server, username)
    web = Browserish(server.base_url)
    assert (await web.login(username)).status_code == 303
    return web


async def remote_question(
    server: LiveServer, remote: RemoteFediverse, *, multiple: bool = False
) -> int:
    """bob's public poll, delivered to us; returns our note id for it."""
    options = [
        {"type": "Note", "name": n, "replies": {"type": "Collection", "totalItems": 0}}
        for n in ("red", "green", "blue")
    ]
    q = remote.note(
        "bob",
        "<p>Favourite colour?</p>",
        to=[PUBLIC],
        type="Question",
        endTime=format_time(time.time() + 3600),
        votersCount=0,
        **{"anyOf" if multiple else "oneOf": options},
    )
    response = await remote.send(server.shared_inbox, remote.activity("bob", "Create", q))
    assert response.status_code == 202
    await server.drain()
    note = await notes.by_uri(server.state.db, q["id"])
    assert note is not None
    return note.id


def votes_sent(remote: RemoteFediverse) -> list[dict[str, Any]]:
    return [p.activity for p in remote.posts(type="Create") if p.activity]


async def test_a_web_vote_sends_one_create_to_the_authors_inbox_only(tmp_path: Path) -> None:
    async with live_server(tmp_path) as server, remote_server() as remote:
        note_id = await remote_question(server, remote)
        async with await logged_in(server, "carol") as web:
            page = f"/notes/{note_id}"
            shown = (await web.get(page)).text
            assert shown.count('type="radio" name="choice"') == 3
            resp = await web.submit(page, f"/notes/{note_id}/vote", {"choice": "1", "next": page})
            assert resp.status_code == 303 and resp.headers["location"] == page
            shown = (await web.get(page)).text
            assert 'name="choice"' not in shown and "you voted" in shown
            assert re.search(r"green <span class=\"badge\">your choice</span>", shown)
            again = await web.submit(page, f"/notes/{note_id}/vote", {"choice": "2"})
            assert again.status_code == 403
        await server.drain()
        received = remote.posts(type="Create")
        assert len(received) == 1
        assert received[0].path == "/users/bob/inbox" and received[0].verified
        obj = received[0].activity["object"]  # type: ignore[index]
        bob = remote.actor_uri("bob")
        assert obj["type"] == "Note" and obj["name"] == "green" and obj["to"] == [bob]
        assert obj["inReplyTo"].endswith(
            f"/users/bob/statuses/{obj['inReplyTo'].rsplit('/', 1)[1]}"
        )
        assert "content" not in obj and received[0].activity["to"] == [bob]  # type: ignore[index]
        poll = await polls.by_note(server.state.db, note_id)
        assert poll is not None and poll.options[1] == ("green", 1) and poll.voters_count == 1


async def test_several_choices_send_one_create_each(tmp_path: Path) -> None:
    async with live_server(tmp_path) as server, remote_server() as remote:
        note_id = await remote_question(server, remote, multiple=True)
        async with await logged_in(server, "carol") as web:
            page = f"/notes/{note_id}"
            assert (await web.get(page)).text.count('type="checkbox" name="choice"') == 3
            token_page = await web.token(page)
            resp = await web.client.post(
                f"/notes/{note_id}/vote",
                data={"csrf": token_page, "choice": ["0", "2"]},
                headers={"Origin": server.base_url},
            )
            assert resp.status_code == 303
            bad = await web.submit(page, f"/notes/{note_id}/vote", {"choice": "7"})
            assert bad.status_code in (400, 403)
        await server.drain()
        names = sorted(a["object"]["name"] for a in votes_sent(remote))
        assert names == ["blue", "red"]
        assert {p.path for p in remote.posts(type="Create")} == {"/users/bob/inbox"}


async def test_bad_votes_are_refused_with_a_clear_status(tmp_path: Path) -> None:
    async with live_server(tmp_path) as server, remote_server() as remote:
        note_id = await remote_question(server, remote)
        async with await logged_in(server, "carol") as web:
            page = f"/notes/{note_id}"
            for choice, status in (("x", 400), ("9", 400), ("-1", 400)):
                resp = await web.submit(page, f"/notes/{note_id}/vote", {"choice": choice})
                assert resp.status_code == status, (choice, resp.status_code)
            two = await web.client.post(
                f"/notes/{note_id}/vote",
                data={"csrf": await web.token(page), "choice": ["0", "1"]},
                headers={"Origin": server.base_url},
            )
            assert two.status_code == 400  # one choice only
            nothing = await web.submit(page, f"/notes/{note_id}/vote", {})
            assert nothing.status_code == 400
            assert (
                await web.submit(page, "/notes/999999/vote", {"choice": "0"})
            ).status_code == 404
            no_csrf = await web.client.post(
                f"/notes/{note_id}/vote", data={"choice": "0"}, headers={"Origin": server.base_url}
            )
            assert no_csrf.status_code in (400, 403)
        await server.drain()
        assert remote.posts(type="Create") == []
        assert await server.count("SELECT COUNT(*) FROM poll_votes") == 0


async def test_compose_publishes_a_question_and_local_votes_are_counted(tmp_path: Path) -> None:
    async with live_server(tmp_path) as server, remote_server() as remote:
        carol = await server.account("carol")
        follow = remote.activity("bob", "Follow", carol.actor.uri)
        assert (await remote.send(server.inbox("carol"), follow)).status_code == 202
        await server.drain()
        async with await logged_in(server, "carol") as web:
            form = {
                "text": "Lunch?",
                "visibility": "public",
                "action": "post",
                "poll_option0": "soup",
                "poll_option1": "salad",
                "poll_option2": "",
                "poll_option3": "",
                "poll_multiple": "1",
                "poll_duration": "1800",
            }
            resp = await web.submit("/compose", "/compose", form)
            assert resp.status_code == 303
            own = (await web.get(resp.headers["location"])).text
            assert "closes in 29 minutes" in own or "closes in 30 minutes" in own
            assert 'name="choice"' not in own  # no vote in one's own poll
            for bad, message in (
                ({"poll_option1": ""}, "2 to 4 options"),
                ({"poll_option1": "soup"}, "differ"),
                ({"poll_duration": "60"}, "5 minutes to 7 days"),
                ({"poll_duration": "soon"}, "how long"),
            ):
                refused = await web.submit("/compose", "/compose", {**form, **bad})
                assert refused.status_code == 400 and message in refused.text
        await server.drain()
        creates = votes_sent(remote)
        assert len(creates) == 1
        obj = creates[0]["object"]
        assert obj["type"] == "Question" and obj["votersCount"] == 0 and obj["endTime"]
        assert [o["name"] for o in obj["anyOf"]] == ["soup", "salad"]
        assert "oneOf" not in obj
        note = await notes.by_uri(server.state.db, obj["id"])
        assert note is not None
        async with await logged_in(server, "dave") as web:
            page = str(note.url).removeprefix(server.base_url)
            resp = await web.client.post(
                f"/notes/{note.id}/vote",
                data={"csrf": await web.token(page), "choice": ["0", "1"]},
                headers={"Origin": server.base_url},
            )
            assert resp.status_code == 303
            assert "1 person voted" in (await web.get(page)).text
        poll = await polls.by_note(server.state.db, note.id)
        assert poll is not None and poll.options == (("soup", 1), ("salad", 1))
        assert await server.count("SELECT COUNT(*) FROM jobs WHERE kind = 'poll_update'") == 1
