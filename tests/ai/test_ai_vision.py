"""Issue 12 item 1 (the seeing part): pictures in the thread reach a text backend that sees
images, as OpenAI ``image_url`` parts; a backend that does not is never made to guess.

Real servers on loopback, real pictures from Pillow served by the peer; the model is the
scripted OpenAI-compatible stand-in, because what is tested is what we send it.
"""

from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import Any

from PIL import Image

from fediverse_ai.sanitize import html_to_text

from .scripted import ScriptedChat
from .test_ai_addressing import scripted_toml
from .test_ai_edits import ask, photo_post, two_halves, world
from .test_bot import deliver


def seeing(chat: ScriptedChat) -> str:
    return scripted_toml(chat).replace('model = "scripted"', 'model = "scripted"\nvision = true', 1)


def sent_pictures(chat: ScriptedChat) -> list[Image.Image]:
    content = chat.prompt()[-1]["content"]
    assert isinstance(content, list), content
    assert content[0]["type"] == "text"
    pictures = []
    for part in content[1:]:
        assert part["type"] == "image_url"
        url = part["image_url"]["url"]
        assert url.startswith("data:image/jpeg;base64,")
        pictures.append(Image.open(io.BytesIO(base64.b64decode(url.partition(",")[2]))))
    return pictures


async def test_a_question_about_a_photo_sends_the_photo_to_a_seeing_model(
    tmp_path: Path, chat: ScriptedChat
) -> None:
    """Given alice's photo and a backend that sees images, when she asks what
    it shows, then the model gets the question and the picture, re-encoded without EXIF."""
    chat.answers = ["A wall painted red and blue."]
    async with world(tmp_path, seeing(chat)) as (ours, remote):
        post = await photo_post(ours, remote, "alice")
        reply = await ask(ours, remote, "what is this?", parent=post["id"])

    (picture,) = sent_pictures(chat)
    assert not picture.getexif()
    rgb = picture.convert("RGB")
    assert rgb.getpixel((10, 10))[0] > 150 and rgb.getpixel((picture.width - 10, 10))[2] > 150
    assert "A wall painted red and blue." in html_to_text(reply["content"])


async def test_a_model_that_cannot_see_is_never_asked_about_a_picture(
    tmp_path: Path, chat: ScriptedChat
) -> None:
    async with world(tmp_path, scripted_toml(chat)) as (ours, remote):
        post = await photo_post(ours, remote, "alice")
        about = await ask(ours, remote, "describe this photo", parent=post["id"])
        assert chat.requests == []
        other = await ask(ours, remote, "when was the bridge of Avignon built?", parent=post["id"])

    assert "cannot see images" in html_to_text(about["content"])
    ((*_, last),) = [r["messages"] for r in chat.requests]
    assert isinstance(last["content"], str) and "1 picture(s) you cannot see" in last["content"]
    assert "An answer." in html_to_text(other["content"])


async def test_alt_text_is_literal_capped_and_says_the_post_is_unchanged(
    tmp_path: Path, chat: ScriptedChat
) -> None:
    chat.answers = ["A red and blue wall. " * 120]  # 2,520 characters
    async with world(tmp_path, seeing(chat)) as (ours, remote):
        post = await photo_post(ours, remote, "bob")
        reply = await ask(ours, remote, "alt text please", parent=post["id"])

    assert "Write alt text for the first picture" in chat.prompt()[-1]["content"][0]["text"]
    text = html_to_text(reply["content"])
    assert "Alt text, to copy into the picture's description:" in text
    body = text.split("description:", 1)[1].split("(Nothing was changed", 1)[0]
    assert 1400 < len(body.strip()) <= 1500
    assert "(Nothing was changed on the original post.)" in text


async def test_at_most_four_pictures_go_newest_first(tmp_path: Path, chat: ScriptedChat) -> None:
    """The mention's own pictures first (its last attachment first), then the post answered."""
    async with world(tmp_path, seeing(chat)) as (ours, remote):
        post = await photo_post(ours, remote, "alice")  # red and blue, 320 x 240
        sizes = [(96, 96), (128, 96), (160, 96), (192, 96)]
        attachments: list[dict[str, Any]] = []
        for i, size in enumerate(sizes):
            remote.files[f"/media/m{i}.jpg"] = ("image/jpeg", two_halves(size))
            url = f"{remote.base_url}/media/m{i}.jpg"
            attachments.append({"type": "Image", "mediaType": "image/jpeg", "url": url})
        from .test_bot import mention

        activity = mention(ours, remote, "compare these", inReplyTo=post["id"])
        activity["object"]["attachment"] = attachments
        await deliver(ours, remote, activity)

    assert [p.size for p in sent_pictures(chat)] == list(reversed(sizes))
