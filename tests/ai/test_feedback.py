"""Feedback on the AI's answers, end to end: likes, boosts and replies become feedback rows,
replies are classified by the worker, opted-out authors are counted and never read, and
``/admin/ai`` shows it all.

Given our server, a remote peer and a scripted OpenAI-compatible model (real HTTP on
loopback, real SQLite, the real worker), when someone mentions the AI and then likes, boosts
or answers the answer through signed activities, the web or the client API, then each is one
row of feedback on that answer with the answer's backend, model and intent.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import httpx
from client_api.support import user_token
from support.live import LiveServer
from support.remote import PUBLIC, RemoteFediverse
from web.support import Browserish, make_user

from fediverse_ai.federation import publish
from fediverse_ai.federation.feedback import FEEDBACK_JOB, WITHHELD
from fediverse_ai.models import Draft, Note
from fediverse_ai.storage import notes

from .scripted import ScriptedChat
from .test_bot import deliver, mention, replies
from .test_context_consent import world

ANSWER_TEXT = "The capital of Australia is Sydney."


async def answered(ours: LiveServer, remote: RemoteFediverse, question: str) -> Note:
    """Alice asks; the AI's (one-post) answer, as stored here."""
    ask = mention(ours, remote, question)
    await deliver(ours, remote, ask)
    [reply] = replies(remote, ask["object"]["id"])
    note = await notes.by_uri(ours.state.db, reply["id"])
    assert note is not None
    return note


def reply_to(remote: RemoteFediverse, username: str, answer: Note, text: str) -> dict[str, Any]:
    note = remote.note(username, f"<p>{text}</p>", inReplyTo=answer.uri, cc=[answer.uri])
    return remote.activity(username, "Create", note, to=[PUBLIC])


async def feedback(ours: LiveServer) -> list[tuple[str, str, str, str]]:
    """(who, kind, verdict, reason) of every feedback row, in order."""
    rows = await ours.state.db.fetchall(
        "SELECT a.username, f.kind, f.verdict, f.reason FROM ai_feedback f"
        " JOIN actors a ON a.id = f.actor_id ORDER BY f.id"
    )
    return [(str(r[0]), str(r[1]), str(r[2]), str(r[3])) for r in rows]


async def test_remote_likes_boosts_and_replies_become_feedback_and_opt_outs_are_not_read(
    tmp_path: Path, chat: ScriptedChat
) -> None:
    chat.answers = [ANSWER_TEXT]
    async with world(tmp_path, chat) as (ours, remote):
        answer = await answered(ours, remote, "what is the capital of Australia?")
        made = await ours.state.db.fetchone(
            "SELECT backend, model, intent, day FROM ai_replies WHERE reply_uri = ?", (answer.uri,)
        )
        assert made is not None and tuple(made)[:3] == ("openai", "scripted", "text")

        like = remote.activity("alice", "Like", answer.uri)
        await deliver(ours, remote, like)
        await deliver(ours, remote, remote.activity("dave", "Announce", answer.uri, to=[PUBLIC]))
        praise = reply_to(remote, "alice", answer, "Thanks, great answer!")
        await deliver(ours, remote, praise)
        complaint = reply_to(remote, "alice", answer, "Wait, that's wrong: it is Canberra.")
        await deliver(ours, remote, complaint)
        question = reply_to(remote, "alice", answer, "And the largest city?")
        await deliver(ours, remote, question)
        # Carol is not indexable and Dave says #NoAI: their words are counted, never read.
        await deliver(ours, remote, reply_to(remote, "carol", answer, "CAROL: wrong, nonsense"))
        await deliver(ours, remote, reply_to(remote, "dave", answer, "DAVE: thanks"))

        assert await feedback(ours) == [
            ("alice", "like", "positive", ""),
            ("dave", "boost", "positive", ""),
            ("alice", "reply", "positive", 'positive +3: "thanks" (en, +1); "great" (en, +2)'),
            ("alice", "reply", "negative", 'negative -2: "wrong" (en, -2)'),
            ("alice", "reply", "neutral", "a follow-up question"),
            ("carol", "reply", "withheld", WITHHELD),
            ("dave", "reply", "withheld", WITHHELD),
        ]
        # Once per reply however often it arrives; an Undo or a Delete takes its row away.
        await deliver(ours, remote, praise)
        assert await ours.count(f"SELECT COUNT(*) FROM jobs WHERE kind = '{FEEDBACK_JOB}'") == 5
        # An edited reply is read again: the question became a complaint.
        edited = {**question["object"], "content": "<p>No: wrong again.</p>"}
        edited["updated"] = "2026-01-01T13:00:00Z"
        await deliver(ours, remote, remote.activity("alice", "Update", edited, to=[PUBLIC]))
        assert (await feedback(ours))[4] == (
            "alice",
            "reply",
            "negative",
            'negative -2: "wrong" (en, -2)',
        )
        await deliver(ours, remote, remote.activity("alice", "Undo", remote.embedded(like)))
        await deliver(ours, remote, remote.activity("alice", "Delete", question["object"]["id"]))
        left = [(who, kind, verdict) for who, kind, verdict, _ in await feedback(ours)]
        assert left == [
            ("dave", "boost", "positive"),
            ("alice", "reply", "positive"),
            ("alice", "reply", "negative"),
            ("carol", "reply", "withheld"),
            ("dave", "reply", "withheld"),
        ]
        # A like of a post that is not an answer is no feedback.
        plain = await publish.publish_note(ours.state, ours.ai, Draft(text="A post of my own."))
        await deliver(ours, remote, remote.activity("alice", "Like", plain.uri))
        assert len(await feedback(ours)) == 5
        # An emoji reaction says what its emoji says.
        thumbs_down = remote.activity("alice", "EmojiReact", answer.uri, content="👎")
        await deliver(ours, remote, thumbs_down)
        assert (await feedback(ours))[-1] == (
            "alice",
            "like",
            "negative",
            'negative -2: "👎" (emoji, -2)',
        )

        page = await admin_page(ours)
        # The worst answer, with the complaint that made it bad and why; consent holds here too.
        assert f'href="/notes/{answer.id}"' in page and "Canberra" in page
        assert "&#34;wrong&#34; (en, -2)" in page or "&quot;wrong&quot; (en, -2)" in page
        assert "CAROL" not in page and "DAVE" not in page
        assert "<td>openai</td><td>scripted</td><td>text</td><td>1</td><td>0</td><td>1</td>" in page
        assert "An emoji reaction." in page
        # Carol's and Dave's replies: other replies in the charts, "not read" in the table.
        assert "<td>0</td><td>2</td><td>50 %</td></tr>" in page
        charts = charts_of(page)
        assert len(charts) == 2
        tips = [
            t.text or "" for svg in charts for t in svg.iter("{http://www.w3.org/2000/svg}title")
        ]
        day = str(made[3])[5:]
        assert f"Complaints, {day}: 2" in tips and f"Boosts, {day}: 1" in tips
        assert f"Praise, {day}: 1" in tips and f"Other replies, {day}: 2" in tips
        assert f"Approval: praise ÷ (praise + complaints), {day}: 50%" in tips


async def test_local_likes_boosts_and_replies_from_the_web_and_the_api(
    tmp_path: Path, chat: ScriptedChat
) -> None:
    chat.answers = [ANSWER_TEXT, "Another answer."]
    async with world(tmp_path, chat) as (ours, remote):
        answer = await answered(ours, remote, "what is the capital of Australia?")
        await make_user(ours, "lena")
        async with Browserish(ours.base_url) as web:
            await web.login("lena")
            page = f"/notes/{answer.id}"
            for action in ("like", "boost"):
                done = await web.submit("/compose", f"/notes/{answer.id}/{action}", {"next": page})
                assert done.status_code == 303, done.text
            sent = await web.submit(
                "/compose",
                "/compose",
                {"text": "n'importe quoi, c'est faux", "in_reply_to": answer.uri},
            )
            assert sent.status_code == 303, sent.text
            await ours.drain()
            # Her switch off: her next reply is counted and not read.
            off = await web.submit("/settings/ai", "/settings/ai", {"ai_may_use_posts": "off"})
            assert off.status_code == 303
            await web.submit("/compose", "/compose", {"text": "grazie", "in_reply_to": answer.uri})
        _, token = await user_token(ours, "mia")
        async with httpx.AsyncClient(base_url=ours.base_url, timeout=10) as api:
            faved = await api.post(
                f"/api/v1/statuses/{answer.id}/favourite",
                headers={"Authorization": f"Bearer {token}"},
            )
            assert faved.status_code == 200, faved.text
        await ours.drain()

        assert [(w, k, v) for w, k, v, _ in await feedback(ours)] == [
            ("lena", "like", "positive"),
            ("lena", "boost", "positive"),
            ("lena", "reply", "negative"),
            ("mia", "like", "positive"),
            ("lena", "reply", "withheld"),
        ]
        # Unliked on the web: the like is no longer counted.
        async with Browserish(ours.base_url) as web:
            await web.login("lena")
            await web.submit("/compose", f"/notes/{answer.id}/unlike", {})
        assert len(await feedback(ours)) == 4
        # Her complaint is hers to withdraw: with the switch off, the page shows no words of hers.
        page = await admin_page(ours)
        assert "faux" not in page and "keeps their posts out of AI processing now" in page


async def test_the_page_is_for_admins_only(tmp_path: Path, chat: ScriptedChat) -> None:
    async with world(tmp_path, chat) as (ours, _remote):
        await make_user(ours, "lena")
        async with Browserish(ours.base_url) as web:
            anonymous = await web.get("/admin/ai")
            assert anonymous.status_code in (302, 303) and "/login" in anonymous.headers["location"]
            await web.login("lena")
            assert (await web.get("/admin/ai")).status_code == 403
        page = await admin_page(ours, "?days=7")
        assert "No answers in this period." in page and "No complaints in this period." in page
        assert len(charts_of(page)) == 2


async def admin_page(ours: LiveServer, query: str = "") -> str:
    await make_user(ours, "root", admin=True)
    async with Browserish(ours.base_url) as web:
        await web.login("root")
        response = await web.get(f"/admin/ai{query}")
    assert response.status_code == 200, response.text
    return response.text


def charts_of(page: str) -> list[ET.Element]:
    """Every inline ``<svg>`` of the page, parsed as XML (it must be well-formed)."""
    found, start = [], 0
    while (start := page.find("<svg", start)) != -1:
        end = page.index("</svg>", start) + len("</svg>")
        found.append(ET.fromstring(page[start:end]))
        start = end
    return found
