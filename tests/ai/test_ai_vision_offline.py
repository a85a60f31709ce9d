"""Issue 12 item 1, offline part, end to end: a text backend that cannot see answers a question
about a picture with automatic hints (ImageNet labels, OCR), labelled and worded as guesses,
and with "cannot see" when they find nothing sure or are turned off.

Our server and the peer are real HTTP servers on loopback; the peer serves real pictures (the
Summer Palace photo scikit-learn ships, a sign rendered by Pillow). The text backend is the
scripted OpenAI-compatible stand-in, to prove it is never asked about the picture.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from PIL import Image
from support.live import LiveServer
from support.remote import RemoteFediverse

from fediverse_ai.sanitize import html_to_text

from .scripted import ScriptedChat
from .test_ai_addressing import scripted_toml
from .test_ai_edits import ask, world
from .test_bot import deliver
from .test_offline_vision import SAMPLES, sign


async def picture_post(
    ours: LiveServer, remote: RemoteFediverse, who: str, picture: bytes
) -> dict[str, Any]:
    remote.files[f"/media/{who}.jpg"] = ("image/jpeg", picture)
    url = f"{remote.base_url}/media/{who}.jpg"
    note = remote.note(
        who, "<p>look</p>", attachment=[{"type": "Image", "mediaType": "image/jpeg", "url": url}]
    )
    await deliver(ours, remote, remote.activity(who, "Create", note))
    return note


def jpeg(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=92)
    return out.getvalue()


async def test_a_photo_gets_labels_worded_as_guesses_and_labelled_automatic(
    tmp_path: Path, chat: ScriptedChat
) -> None:
    """Given bob's photo of the Summer Palace and a model that cannot see, when alice asks
    what it is, then the answer says "possibly: palace (…%)", says these are automatic
    guesses, carries the automatic-hints footer, and the model was never asked."""
    photo = (SAMPLES / "china.jpg").read_bytes()
    async with world(tmp_path, scripted_toml(chat)) as (ours, remote):
        post = await picture_post(ours, remote, "bob", photo)
        reply = await ask(ours, remote, "what is this?", parent=post["id"])

    text = html_to_text(reply["content"])
    assert chat.requests == []
    assert "I can't see images, but an automatic image classifier says possibly: palace (" in text
    assert "automatic guesses, not a description" in text
    assert "Automatic hints (offline: EfficientNet-Lite0 labels, Tesseract OCR)" in text
    assert "text recognition" not in text  # a photo without text gets no OCR noise
    assert reply.get("aiGenerated") is True


async def test_text_in_a_picture_is_read_and_cannot_mention_anyone(
    tmp_path: Path, chat: ScriptedChat
) -> None:
    """The words read in a picture are anyone's: an @handle in them stays inert text."""
    picture = jpeg(sign(["Fresh bread today", "ask @bob for more"]))
    async with world(tmp_path, scripted_toml(chat)) as (ours, remote):
        post = await picture_post(ours, remote, "alice", picture)
        reply = await ask(ours, remote, "describe this picture", parent=post["id"])

    text = html_to_text(reply["content"])
    assert "automatic text recognition reads in the image: “Fresh bread today / ask" in text
    assert "@bob" not in text and "\uff20bob" in text
    mentioned = [t["href"] for t in reply.get("tag", []) if t.get("type") == "Mention"]
    assert mentioned == [remote.actor_uri("alice")]
    assert chat.requests == []


async def test_alt_text_without_vision_gets_hints_that_say_they_are_not_alt_text(
    tmp_path: Path, chat: ScriptedChat
) -> None:
    photo = (SAMPLES / "flower.jpg").read_bytes()
    async with world(tmp_path, scripted_toml(chat)) as (ours, remote):
        post = await picture_post(ours, remote, "alice", photo)
        reply = await ask(ours, remote, "alt text please", parent=post["id"])

    text = html_to_text(reply["content"])
    assert "possibly: daisy (" in text and "They are not alt text" in text


async def test_with_offline_vision_off_a_photo_gets_cannot_see(
    tmp_path: Path, chat: ScriptedChat
) -> None:
    toml = scripted_toml(chat).replace("[ai]\n", "[ai]\noffline_vision = false\n", 1)
    photo = (SAMPLES / "china.jpg").read_bytes()
    async with world(tmp_path, toml) as (ours, remote):
        post = await picture_post(ours, remote, "bob", photo)
        reply = await ask(ours, remote, "what is this?", parent=post["id"])

    text = html_to_text(reply["content"])
    assert "This instance's AI cannot see images" in text and "possibly" not in text
    assert chat.requests == []
