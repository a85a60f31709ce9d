"""Issue 12 item 1, acceptance: llama.cpp's OpenAI-compatible server with a multimodal model
(a text GGUF plus an mmproj projector, both written by the test: ``vision_models``) is shown
the pictures of a thread, through our real server path, and answers from them.

The tiny model names the colour of the picture it was shown ("red red ...", "blue ...") and
can name none without a picture, so these tests cannot pass if the picture is dropped, sent
in a form llama.cpp does not decode, or not encoded by the projector.
"""

from __future__ import annotations

import base64
import io
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from fediverse_ai.sanitize import html_to_text

from .servers import (
    LLAMA_API_KEY,
    TINY_MODEL_ALIAS,
    TINY_WORDS,
    RunningServer,
    tiny_text_backend_toml,
)
from .test_ai_edits import ask, photo_post, world
from .vision_models import IMAGE_TOKENS, SEEING_WORDS

pytestmark = pytest.mark.slow

RED, BLUE = (220, 30, 30), (30, 40, 220)


def solid(rgb: tuple[int, int, int], size: tuple[int, int] = (320, 240)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, rgb).save(out, format="JPEG", quality=90)
    return out.getvalue()


def model_words(reply: dict[str, Any]) -> list[str]:
    """The words of the model's answer in a reply (ours around it use none of them)."""
    text = html_to_text(reply["content"])
    return [word for word in re.findall(r"[a-z]+", text) if word in SEEING_WORDS]


async def test_llama_cpp_names_the_colour_of_the_photo_it_is_asked_about(
    tmp_path: Path, llama_vision_server: RunningServer
) -> None:
    """Given ``ai.text.vision`` and llama.cpp with the projector, when alice asks about her red
    photo, then about bob's blue one, then each answer names that colour and nothing else;
    and a question without a picture, to the same server, names no colour."""
    toml = tiny_text_backend_toml(llama_vision_server, max_tokens=4)
    toml = toml.replace("max_tokens = 4", "max_tokens = 4\nvision = true", 1)
    toml += "\n[ai.moderation]\nenabled = false\n"
    async with world(tmp_path, toml) as (ours, remote):
        red = await photo_post(ours, remote, "alice", solid(RED))
        blue = await photo_post(ours, remote, "bob", solid(BLUE))
        on_red = await ask(ours, remote, "what is this?", parent=red["id"])
        on_blue = await ask(ours, remote, "what is this?", parent=blue["id"])
        blind = await ask(ours, remote, "when was the bridge of Avignon built?")

    assert model_words(on_red) == ["red"] * 4, on_red["content"]
    assert model_words(on_blue) == ["blue"] * 4, on_blue["content"]
    words = model_words(blind)
    assert len(words) == 4 and set(words) <= set(TINY_WORDS), blind["content"]


async def test_each_picture_is_encoded_into_the_prompt(llama_vision_server: RunningServer) -> None:
    """The server's own count: each picture, in the ``image_url`` data-URL form our backend
    sends, adds its 64 patches to the prompt's tokens, and the model answers its colour."""

    def asking(*pictures: bytes) -> list[dict[str, Any]]:
        parts: list[dict[str, Any]] = [{"type": "text", "text": "What is this?"}]
        for picture in pictures:
            url = "data:image/jpeg;base64," + base64.b64encode(picture).decode()
            parts.append({"type": "image_url", "image_url": {"url": url}})
        return [{"role": "user", "content": parts}]

    headers = {"Authorization": f"Bearer {LLAMA_API_KEY}"}
    async with httpx.AsyncClient(base_url=llama_vision_server.base_url, headers=headers) as client:
        usage, answers = [], []
        for pictures in ((), (solid(RED),), (solid(BLUE), solid(BLUE))):
            body = {"model": TINY_MODEL_ALIAS, "messages": asking(*pictures), "max_tokens": 2}
            response = await client.post("/v1/chat/completions", json=body, timeout=60)
            assert response.status_code == 200, response.text
            usage.append(response.json()["usage"]["prompt_tokens"])
            answers.append(response.json()["choices"][0]["message"]["content"].split())

    # A second picture adds exactly its patches. The first also splits the text: what follows
    # it is tokenized apart, with SentencePiece's leading "▁" (3 byte tokens in this vocabulary).
    assert [n - usage[0] for n in usage] == [0, IMAGE_TOKENS + 3, 2 * IMAGE_TOKENS + 3]
    assert answers[1:] == [["red", "red"], ["blue", "blue"]]
    assert set(answers[0]) <= set(TINY_WORDS)
