"""The procedural image backend: real PNGs painted by Pillow, checked through Pillow."""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import sys

import pytest
from PIL import Image, ImageChops, ImageStat

from fediverse_ai.ai.base import ImageBackend
from fediverse_ai.ai.offline_image import ProceduralImageBackend
from fediverse_ai.ai.procedural import (
    MODEL_LABEL,
    normalise_prompt,
    render,
    scene_for_prompt,
    unpaintable,
)


def decode(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    assert image.format == "PNG"
    image.load()
    return image.convert("RGB")


def mean_difference(a: bytes, b: bytes) -> float:
    """Mean absolute difference per channel, 0..255."""
    return sum(ImageStat.Stat(ImageChops.difference(decode(a), decode(b))).mean) / 3


async def test_it_is_an_image_backend_with_an_honest_label() -> None:
    backend = ProceduralImageBackend()
    assert isinstance(backend, ImageBackend)
    result = await backend.generate("a red sunset over the sea", width=320, height=200)
    assert result.backend == "procedural"
    assert result.model == MODEL_LABEL and "not a neural model" in result.model
    assert decode(result.data).size == (320, 200)
    await backend.aclose()


async def test_the_same_prompt_gives_the_same_bytes() -> None:
    backend = ProceduralImageBackend()
    first = await backend.generate("A lighthouse in a storm", width=300, height=200)
    second = await backend.generate("A lighthouse in a storm", width=300, height=200)
    assert first.data == second.data
    assert first.caption == second.caption
    # Case, accents and punctuation are normalised away before hashing.
    third = await backend.generate("a LIGHTHOUSE in a storm!!", width=300, height=200)
    assert third.data == first.data


def test_the_picture_does_not_depend_on_the_process_hash_seed() -> None:
    """The seed comes from SHA-256 of the prompt, not Python's per-process ``hash()``."""
    code = (
        "import hashlib; from fediverse_ai.ai.procedural import render; "
        "print(hashlib.sha256(render('a quiet harbour at dawn', 160, 120)[0]).hexdigest())"
    )
    digests = set()
    for hash_seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        out = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
        )
        digests.add(out.stdout.strip())
    here = hashlib.sha256(render("a quiet harbour at dawn", 160, 120)[0]).hexdigest()
    assert digests == {here}


@pytest.mark.parametrize(
    ("first", "second", "at_least"),
    [
        ("a red sunset over the sea", "a snowy forest at night", 30.0),
        ("a lighthouse at dawn", "mountains under a storm", 30.0),
        # No vocabulary word at all: the hash alone must still make them differ visibly.
        ("lemon", "opera", 8.0),
        ("a cat", "a dog", 8.0),
    ],
)
def test_different_prompts_give_visibly_different_pictures(
    first: str, second: str, at_least: float
) -> None:
    a, _ = render(first, 192, 128)
    b, _ = render(second, 192, 128)
    assert mean_difference(a, b) > at_least


def test_sizes_are_clamped_to_64_1536() -> None:
    small, _ = render("a tree", 1, 10)
    large, _ = render("a tree", 5000, 40)
    assert decode(small).size == (64, 64)
    assert decode(large).size == (1536, 64)


def test_output_is_a_valid_png() -> None:
    data, _ = render("a blue lake with mountains", 257, 131)  # odd sizes on purpose
    Image.open(io.BytesIO(data)).verify()
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    assert decode(data).mode == "RGB"


def test_colour_words_change_the_dominant_colour() -> None:
    red = ImageStat.Stat(decode(render("a red sunset", 256, 192)[0])).mean
    blue = ImageStat.Stat(decode(render("a blue ocean at night", 256, 192)[0])).mean
    assert red[0] - red[2] > 40  # red dominates blue
    assert blue[2] - blue[0] > 40  # blue dominates red
    # The same scene with only the colour word changed moves the same way.
    rouge = ImageStat.Stat(decode(render("une forêt rouge", 256, 192)[0])).mean
    bleue = ImageStat.Stat(decode(render("une forêt bleue", 256, 192)[0])).mean
    assert rouge[0] - rouge[2] > bleue[0] - bleue[2]


def test_night_is_darker_than_day() -> None:
    night = ImageStat.Stat(decode(render("hills at night", 200, 150)[0]).convert("L")).mean[0]
    day = ImageStat.Stat(decode(render("hills at noon", 200, 150)[0]).convert("L")).mean[0]
    assert day - night > 50


@pytest.mark.parametrize(
    ("prompt", "time", "ground", "weather", "colour", "features"),
    [
        (
            "A red sunset over the sea with a lighthouse",
            "sunset",
            "sea",
            None,
            "red",
            {"lighthouse"},
        ),
        ("un phare sur la mer au coucher du soleil", "sunset", "sea", None, None, {"lighthouse"}),
        ("tramonto rosso sul mare", "sunset", "sea", None, "red", set()),
        ("un árbol en el bosque bajo la nieve", None, "forest", "snow", None, {"tree"}),
        ("Ein Leuchtturm im Sturm bei Nacht", "night", "sea", "storm", None, {"lighthouse"}),
        ("grüne Berge am Morgen", "sunrise", None, None, "green", {"mountains"}),
    ],
)
def test_words_in_five_languages_choose_the_scene(
    prompt: str,
    time: str | None,
    ground: str | None,
    weather: str | None,
    colour: str | None,
    features: set[str],
) -> None:
    scene = scene_for_prompt(prompt)
    if time is not None:
        assert scene.time == time
    if ground is not None:
        assert scene.ground == ground
    assert scene.weather == weather
    assert scene.colour == colour
    assert scene.features == features


def test_normalisation_strips_case_accents_and_punctuation() -> None:
    assert normalise_prompt("  Forêt, GRÜN & weiß!  ") == "foret grun weiss"


def test_the_caption_says_what_was_drawn() -> None:
    _, caption = render("A red sunset over the sea with a lighthouse", 128, 128)
    assert caption == (
        "A procedural sunset over the sea with a lighthouse, in shades of red, "
        "generated from the words of the prompt"
    )
    _, caption = render("snowy mountains at night with a tree", 128, 128)
    assert "snowy night" in caption and "mountains and a tree" in caption


def test_the_caption_owns_up_to_subjects_it_cannot_paint() -> None:
    _, caption = render("draw me a cute cat in the forest", 128, 128)
    assert caption.startswith("A procedural ") and "over a forest" in caption
    assert "I could not draw “cat”" in caption and "only paints landscapes" in caption
    _, caption = render("un chien et un chat sur la plage", 128, 128)
    assert "“chien”, “chat”" in caption
    # What it can paint, with the words that ask for style or politeness, admits nothing.
    for prompt in ("a lighthouse at dawn, watercolour", "please paint a calm sea under clouds"):
        assert "could not draw" not in render(prompt, 64, 64)[1], prompt
    assert unpaintable("Ein Hund am Strand") == ["hund"]


def test_every_scene_kind_renders() -> None:
    """One picture per time, weather and ground, with every feature: no drawing path crashes."""
    for time in ("noon", "dawn", "sunset", "night"):
        for extra in ("sea lighthouse tree", "storm forest", "snow desert mountains", "hills"):
            data, caption = render(f"{time} {extra}", 96, 80)
            assert decode(data).size == (96, 80) and caption
