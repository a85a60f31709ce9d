"""Issue 16 item 5: machine-written alt text for remote pictures that arrive without it.

Our server and the peer are real HTTP servers on loopback; the peer serves real pictures (the
Summer Palace photo scikit-learn ships, a sign rendered by Pillow in DejaVu Sans). The worker
is the real one, draining the real job table; the hints come from the shipped EfficientNet
weights and Debian's tesseract. The text backend is the scripted OpenAI-compatible stand-in:
it must never be asked when it cannot see, and says what a seeing model says when it can.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from client_api.support import user_token
from support.live import LiveServer, live_server
from support.remote import RemoteFediverse, remote_server
from web.support import Browserish

from fediverse_ai.storage import jobs, machine_alt

from .scripted import ScriptedChat
from .servers import TINY_MODEL_ALIAS, RunningServer, free_port, tiny_text_backend_toml
from .test_ai_addressing import scripted_toml
from .test_ai_vision_offline import jpeg
from .test_llama_vision import RED, solid
from .test_offline_vision import SAMPLES, sign

PALACE = (SAMPLES / "china.jpg").read_bytes()
SIGN = jpeg(sign(["Fresh bread today"]))
LABEL = 'alt="Automatic description: possibly: palace ('


@asynccontextmanager
async def world(tmp_path: Path, toml: str) -> AsyncIterator[tuple[LiveServer, RemoteFediverse]]:
    async with (
        remote_server(("alice", "bob", "dave")) as remote,
        live_server(tmp_path / "ours", extra_toml=toml) as ours,
    ):
        remote.files |= {
            "/m/palace.jpg": ("image/jpeg", PALACE),
            "/m/sign.jpg": ("image/jpeg", SIGN),
        }
        yield ours, remote


def picture(remote: RemoteFediverse, file: str, **extra: Any) -> dict[str, Any]:
    url = f"{remote.base_url}/m/{file}"
    return {"type": "Image", "mediaType": "image/jpeg", "url": url, **extra}


async def post(
    ours: LiveServer,
    remote: RemoteFediverse,
    who: str,
    attachments: list[dict[str, Any]],
    **kw: Any,
) -> int:
    """``who`` posts the pictures publicly; the worker drains; returns our note's id."""
    note = remote.note(who, "<p>look</p>", attachment=attachments, **kw)
    response = await remote.send(ours.shared_inbox, remote.activity(who, "Create", note))
    assert response.status_code == 202, response.text
    await ours.drain()
    return await ours.count("SELECT id FROM notes WHERE uri = ?", (note["id"],))


async def descriptions(ours: LiveServer, note_id: int) -> list[machine_alt.MachineAlt | None]:
    """The stored description of each attachment of the note, in order."""
    rows = await ours.state.db.fetchall(
        "SELECT id FROM media WHERE note_id = ? ORDER BY position", (note_id,)
    )
    return [await machine_alt.get(ours.state.db, int(r[0])) for r in rows]


async def opt_in(ours: LiveServer, username: str) -> None:
    async with Browserish(ours.base_url) as web:
        await web.login(username)
        saved = await web.submit("/settings/ai", "/settings/ai", {"describe_images": "on"})
        assert saved.status_code == 303
        assert 'class="state-describe">on<' in (await web.get("/settings/ai")).text


async def page_as(ours: LiveServer, username: str | None, path: str) -> str:
    async with Browserish(ours.base_url) as web:
        if username:
            await web.login(username)
        response = await web.get(path)
        assert response.status_code == 200
        return response.text


async def test_pictures_without_alt_text_are_described_for_those_who_asked(
    tmp_path: Path, chat: ScriptedChat
) -> None:
    """Given a reader who opted in and one who did not, when alice posts a photo and a sign
    without alt text and a flower with hers, bob a sensitive photo and dave (#noai) a photo,
    then only alice's two get automatic descriptions, labelled in the alt attribute and the
    caption for the reader alone, the model is never asked, and the client API's
    ``description`` stays the author's (null)."""
    async with world(tmp_path, scripted_toml(chat)) as (ours, remote):
        remote.users["dave"].actor_extra["summary"] = "<p>Photographer. #NoAI please.</p>"
        _, token = await user_token(ours, "reader")
        await opt_in(ours, "reader")
        await user_token(ours, "plain")
        alices = await post(
            ours,
            remote,
            "alice",
            [
                picture(remote, "palace.jpg"),
                picture(remote, "sign.jpg"),
                picture(remote, "palace.jpg", name="My own words"),
            ],
            tag=[{"type": "Hashtag", "name": "#pictures", "href": f"{remote.base_url}/t/p"}],
        )
        bobs = await post(ours, remote, "bob", [picture(remote, "palace.jpg")], sensitive=True)
        daves = await post(ours, remote, "dave", [picture(remote, "palace.jpg")])

        palace, sign_alt, own = await descriptions(ours, alices)
        assert palace is not None and palace.text.startswith("possibly: palace (")
        assert palace.source == "offline: EfficientNet-Lite0 labels, Tesseract OCR"
        assert sign_alt is not None and "text in the image: “Fresh bread today”" in sign_alt.text
        assert own is None  # the author wrote one
        assert await descriptions(ours, bobs) == [None]  # sensitive
        assert await descriptions(ours, daves) == [None]  # #noai
        assert chat.requests == []  # it cannot see: never asked about a picture
        assert await ours.count("SELECT COUNT(*) FROM jobs WHERE state != 'done'") == 0

        shown = await page_as(ours, "reader", f"/notes/{alices}")
        assert shown.count(LABEL) == 1 and "Automatic description: possibly: palace" in shown
        assert 'alt="Automatic description: text in the image: “Fresh bread today”"' in shown
        assert "Auto ALT" in shown and "not by the author" in shown
        assert 'alt="My own words"' in shown  # the author's alt text is never replaced
        for who in ("plain", None):
            assert "Automatic description" not in await page_as(ours, who, f"/notes/{alices}")
        timeline = await page_as(ours, "reader", "/tags/pictures")
        assert LABEL in timeline
        assert "Automatic description" not in await page_as(ours, "plain", "/tags/pictures")

        async with httpx.AsyncClient(base_url=ours.base_url, timeout=10) as api:
            status = await api.get(
                f"/api/v1/statuses/{alices}", headers={"Authorization": f"Bearer {token}"}
            )
        assert status.status_code == 200
        attached = status.json()["media_attachments"]
        assert [a["description"] for a in attached] == [None, None, "My own words"]
        assert "Automatic" not in status.text


async def test_descriptions_are_queued_only_while_someone_asked(
    tmp_path: Path, chat: ScriptedChat
) -> None:
    """With nobody opted in, a cached picture queues nothing; when a reader opts in, the
    recent pictures are described, and a new post showing the same (already cached) picture
    is described without fetching it again."""
    async with world(tmp_path, scripted_toml(chat)) as (ours, remote):
        before = await post(ours, remote, "alice", [picture(remote, "palace.jpg")])
        assert await ours.count("SELECT COUNT(*) FROM jobs WHERE kind = 'describe_image'") == 0
        assert await descriptions(ours, before) == [None]

        await user_token(ours, "reader")
        async with Browserish(ours.base_url) as web:
            await web.login("reader")
            bad = await web.submit("/settings/ai", "/settings/ai", {"describe_images": "maybe"})
            assert bad.status_code == 400
        reader = (await ours.account("reader")).actor.id
        assert not await machine_alt.wants(ours.state.db, reader)
        await opt_in(ours, "reader")
        again = await post(ours, remote, "alice", [picture(remote, "palace.jpg")])
        [found] = await descriptions(ours, again)
        assert found is not None and found.text.startswith("possibly: palace (")
        assert await descriptions(ours, before) == [found]  # opting in described the recent ones
        assert remote.fetched.count("/m/palace.jpg") == 1
        # The job is idempotent: run again, it keeps each description, one per picture.
        await ours.state.db.execute(
            "UPDATE jobs SET state = 'pending' WHERE kind = 'describe_image'"
        )
        await ours.drain()
        assert await ours.count("SELECT COUNT(*) FROM media_machine_alt") == 2


def _vision_toml(chat: ScriptedChat) -> str:
    return scripted_toml(chat).replace('model = "scripted"', 'model = "scripted"\nvision = true')


async def test_a_model_that_sees_writes_it_and_its_words_are_checked(
    tmp_path: Path, chat: ScriptedChat
) -> None:
    """With a text backend that sees, the picture goes to it as an image part and its answer
    is the description (one line, labelled); an answer that repeats the system prompt is not
    kept, as it would not be published."""
    chat.answers = ["A palace with red roofs\n\nbeside a lake."]
    async with world(tmp_path, _vision_toml(chat)) as (ours, remote):
        await user_token(ours, "reader")
        await opt_in(ours, "reader")
        seen = await post(ours, remote, "alice", [picture(remote, "palace.jpg")])
        assert await descriptions(ours, seen) == [
            machine_alt.MachineAlt("A palace with red roofs beside a lake.", "openai: scripted")
        ]
        [request] = chat.requests
        parts = request["messages"][-1]["content"]
        urls = [p["image_url"]["url"] for p in parts if p.get("type") == "image_url"]
        assert len(urls) == 1 and urls[0].startswith("data:image/jpeg;base64,")
        shown = await page_as(ours, "reader", f"/notes/{seen}")
        assert 'alt="Automatic description: A palace with red roofs beside a lake."' in shown

        chat.answers = [ours.state.config.ai.system_prompt]
        leaked = await post(ours, remote, "bob", [picture(remote, "sign.jpg")])
        assert await descriptions(ours, leaked) == [None]
        assert len(chat.requests) == 2


async def test_an_edit_replaces_the_description_with_its_pictures(
    tmp_path: Path, chat: ScriptedChat
) -> None:
    """The description goes with its attachment (FK cascade): an edit that replaces a post's
    pictures drops the old one, and the new attachment (maybe under the same id) is described
    again from the cached file; a post deleted takes its description with it."""
    async with world(tmp_path, scripted_toml(chat)) as (ours, remote):
        await user_token(ours, "reader")
        await opt_in(ours, "reader")
        note = remote.note("alice", "<p>look</p>", attachment=[picture(remote, "palace.jpg")])
        await remote.send(ours.shared_inbox, remote.activity("alice", "Create", note))
        await ours.drain()
        note_id = await ours.count("SELECT id FROM notes WHERE uri = ?", (note["id"],))
        [first] = await descriptions(ours, note_id)
        assert first is not None

        edited = {**note, "content": "<p>a sign now</p>", "updated": "2026-01-01T13:00:00Z"}
        edited["attachment"] = [
            picture(remote, "palace.jpg", name="Summer Palace"),
            picture(remote, "palace.jpg"),
        ]
        await remote.send(ours.shared_inbox, remote.activity("alice", "Update", edited))
        await ours.drain()
        own, again = await descriptions(ours, note_id)
        assert own is None  # alt text of its own now
        assert again is not None and again.text == first.text
        assert await ours.count("SELECT COUNT(*) FROM media_machine_alt") == 1
        assert remote.fetched.count("/m/palace.jpg") == 1

        await remote.send(ours.shared_inbox, remote.activity("alice", "Delete", note["id"]))
        await ours.drain()
        assert await ours.count("SELECT COUNT(*) FROM media_machine_alt") == 0


async def test_a_backend_that_is_down_is_retried_later(tmp_path: Path) -> None:
    """A seeing backend that cannot be reached: the job is kept and rescheduled with backoff
    (its error recorded), not dropped and not crashed."""
    toml = f"""
[ai.text]
backend = "openai"
base_url = "http://127.0.0.1:{free_port()}/v1"
model = "nobody"
vision = true
timeout_seconds = 2.0
"""
    async with world(tmp_path, toml) as (ours, remote):
        await user_token(ours, "reader")
        await opt_in(ours, "reader")
        note_id = await post(ours, remote, "alice", [picture(remote, "palace.jpg")])
        assert await descriptions(ours, note_id) == [None]
        row = await ours.state.db.fetchone(
            "SELECT state, attempts, run_after, last_error FROM jobs WHERE kind = 'describe_image'"
        )
        assert row is not None and row[0] == "pending" and row[1] == 1
        assert row[2] > ours.state.now() and "describing a picture" in row[3]


async def test_a_job_with_a_hostile_payload_fails_for_good(
    tmp_path: Path, chat: ScriptedChat
) -> None:
    async with world(tmp_path, scripted_toml(chat)) as (ours, _):
        await jobs.enqueue(
            ours.state.db, "describe_image", {"media_id": "1; DROP"}, now=ours.state.now()
        )
        await ours.drain()
        row = await ours.state.db.fetchone("SELECT state, last_error FROM jobs")
        assert row is not None and row[0] == "failed" and "media_id" in row[1]


@pytest.mark.slow
async def test_llama_cpp_with_a_projector_describes_the_picture_it_was_shown(
    tmp_path: Path, llama_vision_server: RunningServer
) -> None:
    """Through llama.cpp's server and the tiny colour-seeing model (``vision_models``), the job
    sends the picture itself: the description names its colour, which the model cannot know
    without it."""
    toml = tiny_text_backend_toml(llama_vision_server, max_tokens=4)
    toml = toml.replace("max_tokens = 4", "max_tokens = 4\nvision = true", 1)
    async with world(tmp_path, toml) as (ours, remote):
        remote.files["/m/red.jpg"] = ("image/jpeg", solid(RED))
        await user_token(ours, "reader")
        await opt_in(ours, "reader")
        note_id = await post(ours, remote, "alice", [picture(remote, "red.jpg")])
        [found] = await descriptions(ours, note_id)
    assert found is not None and found.text.split() == ["red"] * 4, found
    assert found.source == f"openai: {TINY_MODEL_ALIAS}"
