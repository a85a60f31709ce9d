"""Issue 12 item 3: the AI edits the asker's own pictures, and nobody else's.

Our server and the peer are real HTTP servers on loopback; the pictures are real images made
with Pillow and served by the peer. The image backends are the offline filters (the default),
stable-diffusion.cpp's ``sd-server`` (img2img over the AUTOMATIC1111 API, and OpenAI's
``/v1/images/edits``), and the scripted OpenAI-compatible stand-in where a test must read
what the backend was sent.
"""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image
from support.live import LiveServer, live_server
from support.remote import RemoteFediverse, remote_server

from fediverse_ai.sanitize import html_to_text

from .scripted import ScriptedChat
from .servers import RunningServer
from .test_ai_addressing import scripted_toml
from .test_bot import deliver, mention, replies

NO_MODERATION = "\n[ai.moderation]\nenabled = false\n"


def two_halves(size: tuple[int, int] = (320, 240)) -> bytes:
    """A photo-sized JPEG, red on the left and blue on the right, with an EXIF block."""
    image = Image.new("RGB", size, (220, 30, 30))
    image.paste((30, 40, 220), (size[0] // 2, 0, size[0], size[1]))
    exif = Image.Exif()
    exif[0x010F] = "CameraMaker"  # Make
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=92, exif=exif)
    return out.getvalue()


@asynccontextmanager
async def world(tmp_path: Path, toml: str) -> AsyncIterator[tuple[LiveServer, RemoteFediverse]]:
    async with (
        remote_server(("alice", "bob")) as remote,
        live_server(tmp_path / "ours", extra_toml=toml) as ours,
    ):
        yield ours, remote


async def photo_post(
    ours: LiveServer, remote: RemoteFediverse, who: str, picture: bytes | None = None
) -> dict[str, Any]:
    """``who`` posts a photo (``two_halves`` unless ``picture`` is given); returns the note."""
    remote.files[f"/media/{who}.jpg"] = ("image/jpeg", picture or two_halves())
    note = remote.note(
        who,
        "<p>my photo</p>",
        attachment=[
            {
                "type": "Image",
                "mediaType": "image/jpeg",
                "url": f"{remote.base_url}/media/{who}.jpg",
                "name": "a red and blue wall",
            }
        ],
    )
    await deliver(ours, remote, remote.activity(who, "Create", note))
    return note


async def ask(
    ours: LiveServer, remote: RemoteFediverse, text: str, *, parent: str | None = None
) -> dict[str, Any]:
    extra = {"inReplyTo": parent} if parent else {}
    activity = mention(ours, remote, text, **extra)
    await deliver(ours, remote, activity)
    (reply,) = replies(remote, activity["object"]["id"])
    return reply


async def fetch_picture(reply: dict[str, Any]) -> Image.Image:
    (attachment,) = reply["attachment"]
    assert attachment["aiGenerated"] is True
    async with httpx.AsyncClient() as client:
        response = await client.get(attachment["url"])
    assert response.status_code == 200
    return Image.open(io.BytesIO(response.content)).convert("RGB")


async def test_the_offline_filters_edit_the_askers_own_photo(
    tmp_path: Path, both_stores: str
) -> None:
    """Given alice's photo, when she answers it with "@ai make this a watercolour", then the
    answer is her picture through a watercolour filter (red still left, blue still right),
    says it is a filter, links her post, and carries alt text and the AI label. On either
    media store: the photo is read from the cache's copy there, the answer written there."""
    async with world(tmp_path, NO_MODERATION + both_stores) as (ours, remote):
        post = await photo_post(ours, remote, "alice")
        reply = await ask(ours, remote, "make this a watercolour please", parent=post["id"])
        picture = await fetch_picture(reply)
        # Fetched once, by the media cache: the edit read the cache's copy from the store.
        assert remote.fetched.count("/media/alice.jpg") == 1

    text = html_to_text(reply["content"])
    assert f"Edited from your post: {post['id']}" in text
    assert "watercolour filter" in text and "cannot repaint" in text
    assert "AI-generated (procedural: image filters (not a neural model))" in text
    (attachment,) = reply["attachment"]
    assert attachment["name"].startswith("AI-edited version of the asker's own picture")
    width, height = picture.size
    left = picture.crop((0, 0, width // 3, height)).resize((1, 1)).getpixel((0, 0))
    right = picture.crop((2 * width // 3, 0, width, height)).resize((1, 1)).getpixel((0, 0))
    assert left[0] > left[2] + 60 and right[2] > right[0] + 60, (left, right)
    assert abs(width / height - 320 / 240) < 0.2


async def test_someone_elses_photo_is_never_edited(tmp_path: Path, chat: ScriptedChat) -> None:
    """Given bob's photo, when alice asks the AI to edit it, then the answer refuses by naming
    the rule and bob, carries no picture, and the image backend is sent nothing."""
    async with world(tmp_path, scripted_toml(chat)) as (ours, remote):
        post = await photo_post(ours, remote, "bob")
        reply = await ask(ours, remote, "/edit give him a clown nose", parent=post["id"])

    text = html_to_text(reply["content"])
    assert "I only edit pictures posted by the person asking" in text
    assert "bob" in text and not reply.get("attachment")
    assert chat.edits == [] and chat.image_prompts == []


async def test_an_edit_with_no_picture_in_reach_says_how(
    tmp_path: Path, chat: ScriptedChat
) -> None:
    async with world(tmp_path, scripted_toml(chat)) as (ours, remote):
        reply = await ask(ours, remote, "make my photo a watercolour")
    assert "To edit a picture, post it with your request" in html_to_text(reply["content"])
    assert chat.edits == [] and not reply.get("attachment")


async def test_the_backend_gets_the_cleaned_picture_as_a_png(
    tmp_path: Path, chat: ScriptedChat
) -> None:
    """The picture sent to an OpenAI-compatible edits endpoint is the asker's, re-encoded as a
    PNG within the configured size (sides in multiples of 8), without its EXIF block."""
    async with world(tmp_path, scripted_toml(chat)) as (ours, remote):
        post = await photo_post(ours, remote, "alice")
        reply = await ask(ours, remote, "make this look older", parent=post["id"])
        await fetch_picture(reply)

    (sent,) = chat.edits
    assert sent["prompt"] == "make this look older" and sent["model"] == "gpt-image-1"
    with Image.open(io.BytesIO(sent["image"])) as image:
        # scripted_toml: 64 x 64, and 64 pixels is the least side sent.
        assert image.format == "PNG" and image.size == (64, 64)
        assert not image.getexif()
        assert image.convert("RGB").getpixel((8, 32))[0] > 150  # red on the left


@pytest.mark.slow
@pytest.mark.parametrize("api", ["automatic1111", "openai"])
async def test_sd_server_edits_the_picture(
    tmp_path: Path, sd_server: RunningServer, api: str
) -> None:
    """stable-diffusion.cpp's sd-server (zero weights: a flat picture) answers the edit over
    AUTOMATIC1111's img2img and over OpenAI's images/edits; the answer carries its image."""
    base = sd_server.base_url + ("/v1" if api == "openai" else "")
    toml = f"""
[ai.image]
backend = "{api}"
base_url = "{base}"
width = 128
height = 128
steps = 1
timeout_seconds = 120
{NO_MODERATION}"""
    async with world(tmp_path, toml) as (ours, remote):
        post = await photo_post(ours, remote, "alice")
        reply = await ask(ours, remote, "make this a watercolour", parent=post["id"])
        picture = await fetch_picture(reply)

    assert picture.size[0] >= 64 and picture.size[1] >= 64
    text = html_to_text(reply["content"])
    assert f"Edited from your post: {post['id']}" in text
    assert f"AI-generated ({api}:" in text
