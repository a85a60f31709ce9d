"""Moderation assist: scoring throughput per post, text and image (``python -m bench.modassist``,
about a minute on 2 cores, not in ``make bench``).

A fresh database in a temporary directory (removed afterwards), ``ai.moderation.assist`` on.
Local authors publish posts through the publishing service: that is the baseline, the cost of
storing a post, measured in the same run. Then the worker drains their ``score_note`` jobs:
the job's cost per post (note, consent, model, write) as a ratio to publishing it. The models
alone are timed too, and the picture model on the full-size file against the 640-pixel copy
the media cache keeps (which the job uses for remote pictures). Models are loaded before the
timed part; their load time and the memory they add are printed beside.
"""

from __future__ import annotations

import asyncio
import io
import random
import tempfile
import time
from pathlib import Path
from typing import Any

from PIL import Image

from fediverse_ai.accounts import ensure_account
from fediverse_ai.config import load_config
from fediverse_ai.federation import publish
from fediverse_ai.media import make_thumbnail, process_image
from fediverse_ai.modassist.scoring import SCORE_JOB, get_moderator
from fediverse_ai.models import Draft
from fediverse_ai.state import State, open_state
from fediverse_ai.worker import Worker

from .common import percentile, pick, table, write_result
from .instance import config_toml

TEXT_POSTS = pick(300, 60)
IMAGE_POSTS = pick(40, 10)
MODEL_ROUNDS = pick(200, 40)
CLEAN = (
    "Baking bread at home today, the sourdough needs a long cold proof.",
    "Any tips for a first marathon? I start training next week.",
    "The museum opens a new wing on Saturday, free entry until noon.",
)
RUDE = ("You are a stupid idiot and nobody wants you here.",)
LONG = " ".join(CLEAN * 4)  # 12 sentences: the text is scored sentence by sentence


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def photo(rng: random.Random, side: tuple[int, int] = (1600, 1200)) -> bytes:
    """A JPEG with the texture of a photo (noise over a gradient), about 0.5-1 MB."""
    noise = Image.effect_noise(side, 40).convert("RGB")
    ramp = Image.linear_gradient("L").resize(side).convert("RGB")
    tint = Image.new("RGB", side, (rng.randrange(256), rng.randrange(256), rng.randrange(256)))
    out = io.BytesIO()
    Image.blend(Image.blend(noise, ramp, 0.5), tint, 0.3).save(out, "JPEG", quality=92)
    return out.getvalue()


async def _drain_scores(state: State) -> tuple[int, float]:
    await state.db.execute("DELETE FROM jobs WHERE kind != ?", (SCORE_JOB,))
    started = time.perf_counter()
    ran = await Worker(state).drain()
    return ran, time.perf_counter() - started


async def _text(state: State) -> dict[str, Any]:
    authors = [await ensure_account(state, f"writer{i}", role="user") for i in range(10)]
    texts = [*CLEAN, *RUDE, LONG]
    started = time.perf_counter()
    for i in range(TEXT_POSTS):
        await publish.publish_note(state, authors[i % 10], Draft(text=texts[i % len(texts)]))
    publish_ms = (time.perf_counter() - started) * 1000 / TEXT_POSTS
    ran, job_s = await _drain_scores(state)
    assert ran == TEXT_POSTS, ran
    moderator = get_moderator(state)
    model = []
    for i in range(MODEL_ROUNDS):
        t = time.perf_counter()
        await moderator.text_score(texts[i % len(texts)])
        model.append((time.perf_counter() - t) * 1000)
    flagged = await state.db.fetchval("SELECT COUNT(*) FROM moderation_flags WHERE score >= 0.8")
    return {
        "publish_ms": publish_ms,
        "job_ms": job_s * 1000 / TEXT_POSTS,
        "model_ms_p50": percentile(model, 50),
        "flagged": int(flagged),
    }


async def _image(state: State, rng: random.Random) -> dict[str, Any]:
    author = await ensure_account(state, "photographer", role="user")
    pictures = [process_image(photo(rng)) for _ in range(4)]
    started = time.perf_counter()
    for i in range(IMAGE_POSTS):
        picture = pictures[i % len(pictures)].as_attachment("a photo")
        await publish.publish_note(state, author, Draft(text="", attachments=(picture,)))
    publish_ms = (time.perf_counter() - started) * 1000 / IMAGE_POSTS
    ran, job_s = await _drain_scores(state)
    assert ran == IMAGE_POSTS, ran
    moderator = get_moderator(state)
    full: list[float] = []
    thumb: list[float] = []
    for i in range(MODEL_ROUNDS // 4):
        big = pictures[i % len(pictures)]
        small = make_thumbnail(big, 640).data
        for data, into in ((big.data, full), (small, thumb)):
            t = time.perf_counter()
            await moderator.image_score(data)
            into.append((time.perf_counter() - t) * 1000)
    return {
        "publish_ms": publish_ms,
        "job_ms": job_s * 1000 / IMAGE_POSTS,
        "model_full_ms_p50": percentile(full, 50),
        "model_thumb_ms_p50": percentile(thumb, 50),
        "bytes": len(pictures[0].data),
    }


async def _run(directory: Path) -> dict[str, Any]:
    extra = "[ai.moderation]\nassist = true\nsummarise_reports = false\n\n"
    extra += "[ai.foryou]\nenabled = false\n"
    path = directory / "config.toml"
    path.write_text(config_toml(8999, embedded_worker=False, extra=extra))
    (directory / "keys").mkdir()
    config = load_config(path)
    async with open_state(config) as state:
        rss0 = _rss_mb()
        moderator = get_moderator(state)
        t = time.perf_counter()
        await moderator.text_score("warming up")
        text_load = time.perf_counter() - t
        rss1 = _rss_mb()
        t = time.perf_counter()
        await moderator.image_score(process_image(photo(random.Random(1))).data)
        image_load = time.perf_counter() - t
        rss2 = _rss_mb()
        text = await _text(state)
        image = await _image(state, random.Random(7))
    return {
        "text": text,
        "image": image,
        "text_load_s": text_load,
        "image_load_s": image_load,
        "text_rss_mb": rss1 - rss0,
        "image_rss_mb": rss2 - rss1,
    }


def _row(post: str, figures: dict[str, Any], model_ms: float) -> dict[str, Any]:
    return {
        "post": post,
        "publish ms (baseline)": figures["publish_ms"],
        "score job ms": figures["job_ms"],
        "job / publish": figures["job_ms"] / figures["publish_ms"],
        "model alone ms": model_ms,
        "posts/s, one job loop": 1000 / figures["job_ms"],
    }


def run() -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-modassist-") as tmp:
        result = asyncio.run(_run(Path(tmp)))
    text, image = result["text"], result["image"]
    rows = [
        _row(f"text ({TEXT_POSTS} posts)", text, text["model_ms_p50"]),
        _row(
            f"one picture ({IMAGE_POSTS} posts, {image['bytes'] // 1000} KB)",
            image,
            image["model_full_ms_p50"],
        ),
    ]
    print(table("Moderation assist: scoring per post", rows))
    thumb = image["model_thumb_ms_p50"]
    print(
        f"picture model on the 640-pixel cache copy: {thumb:.1f} ms, "
        f"{image['model_full_ms_p50'] / thumb:.1f}x faster than on the full file\n"
        f"first use: text model {result['text_load_s']:.1f} s, +{result['text_rss_mb']:.0f} MB;"
        f" picture model {result['image_load_s']:.1f} s, +{result['image_rss_mb']:.0f} MB\n"
        f"flagged (text >= 0.8): {text['flagged']} of {TEXT_POSTS}"
    )
    write_result("modassist", result)
    return result


if __name__ == "__main__":
    run()
