"""``/admin/ai`` with 10,000 feedback rows: page p50 against ``/admin`` measured in the same run
(``BENCH_ONLY=admin_ai python -m bench``).

A fresh database in a temporary directory (removed afterwards): the AI's 1,000 answers
(published through the publishing service, then spread over the last 30 days), 40 local
accounts, and 10,000 feedback rows on them: 5,000 likes, 2,000 boosts and 3,000 replies (real
reaction, announce and note rows; the replies' verdicts and reasons from the real classifier,
one in ten withheld for consent). Both pages are timed server-side through Quart's in-process
client, as ``bench/foryou.py`` does; the charts, the table and the worst-rated answers are all
in the timed page.
"""

from __future__ import annotations

import asyncio
import random
import tempfile
import time
from pathlib import Path
from typing import Any

from fediverse_ai.accounts import ensure_account
from fediverse_ai.ai.feedback import classify
from fediverse_ai.app import create_app
from fediverse_ai.config import load_config
from fediverse_ai.federation import publish
from fediverse_ai.models import Draft
from fediverse_ai.state import State, open_state
from fediverse_ai.storage import actors
from fediverse_ai.storage.ai_replies import day_of
from fediverse_ai.web.common import SESSION_COOKIE

from .common import percentile, pick, table, write_result
from .pages import init_instance, session_token, time_page

USERS = 40
REPLIES = (
    "thanks, great answer!", "that's wrong", "wrong answer, nonsense", "and in winter?",
    "merci, c'est parfait", "c'est faux", "grazie mille", "non è corretto", "not helpful",
    "tell me more",
)  # fmt: skip
MODELS = (
    ("openai", "gpt-4o-mini", "text"),
    ("offline", "SmolLM2-135M", "text"),
    ("procedural", "procedural", "image"),
    ("offline", "EfficientNet-Lite0", "vision"),
)


async def _seed(state: State, answers: int, rows: int, rng: random.Random) -> dict[str, Any]:
    ai = await actors.account_by_role(state.db, "ai")
    assert ai is not None
    users = [await ensure_account(state, f"user{i}", role="user") for i in range(USERS)]
    now = state.now()
    started = time.perf_counter()
    posts = []
    for i in range(answers):
        note = await publish.publish_note(
            state, ai, Draft(text=f"Answer {i}: {REPLIES[i % 10]}", visibility="unlisted")
        )
        when = now - rng.random() * 29.5 * 86_400
        backend, model, intent = MODELS[i % len(MODELS)]
        await state.db.execute(
            "INSERT INTO ai_replies (mention_uri, author_uri, base_status_id, state, reply_uri,"
            " created_at, updated_at, decided_at, backend, model, intent, day)"
            " VALUES (?, ?, ?, 'done', ?, ?, ?, ?, ?, ?, ?, ?)",
            (f"https://remote.example/m/{i}", users[0].actor.uri, str(i), note.uri, when, when,
             when, backend, model, intent, day_of(when)),
        )  # fmt: skip
        posts.append((note, when))
    likes, boosts = rows // 2, rows // 5
    replies = rows - likes - boosts
    reactions, announces, reply_notes, feedback = [], [], [], []
    pairs = rng.sample([(u, p) for u in range(USERS) for p in range(answers)], likes + boosts)
    for k, (u, p) in enumerate(pairs):
        note, when = posts[p]
        at = when + rng.random() * 3600
        if k < likes:
            reactions.append((f"like-{k}", users[u].actor.id, note.id, at))
        else:
            announces.append((f"boost-{k}", users[u].actor.id, note.id, at))
    await state.db.executemany(
        "INSERT INTO reactions (uri, kind, emoji, actor_id, note_id, created_at)"
        " VALUES (?, 'like', '', ?, ?, ?)",
        reactions,
    )
    await state.db.executemany(
        "INSERT INTO announces (uri, actor_id, note_id, published) VALUES (?, ?, ?, ?)", announces
    )
    for k in range(replies):
        note, when = posts[rng.randrange(answers)]
        at = when + rng.random() * 3600
        text = REPLIES[k % len(REPLIES)]
        uri = f"https://bench.example/replies/{k}"
        user = users[rng.randrange(USERS)]
        reply_notes.append((uri, user.actor.id, f"<p>{text}</p>", note.uri, at, at, at))
        verdict = classify(text)
        withheld = k % 10 == 0
        feedback.append((uri, note.id, user.actor.id, "withheld" if withheld else verdict.label,
                         "" if withheld else verdict.reason, day_of(at), at))  # fmt: skip
    await state.db.executemany(
        "INSERT INTO notes (uri, actor_id, local, content, visibility, in_reply_to_uri,"
        " published, published_text, created_at) VALUES (?, ?, 1, ?, 'public', ?, ?, '', ?)",
        [(u, a, c, r, p, at) for u, a, c, r, p, _, at in reply_notes],
    )
    for kind, table_name, column in (("like", "reactions", "reaction_id"),
                                     ("boost", "announces", "announce_id")):  # fmt: skip
        stamp = "created_at" if kind == "like" else "published"
        await state.db.execute(
            f"INSERT INTO ai_feedback (mention_uri, answer_note_id, actor_id, kind, {column},"
            f" verdict, day, created_at) SELECT r.mention_uri, x.note_id, x.actor_id, '{kind}',"
            f" x.id, 'positive', '', x.{stamp} FROM {table_name} x"
            " JOIN notes n ON n.id = x.note_id JOIN ai_replies r ON r.reply_uri = n.uri"
        )
    await state.db.executemany(
        "INSERT INTO ai_feedback (mention_uri, answer_note_id, actor_id, kind, reply_note_id,"
        " verdict, reason, day, created_at) SELECT r.mention_uri, ?, ?, 'reply', n.id, ?, ?, ?, ?"
        " FROM notes n JOIN ai_replies r ON r.reply_uri = n.in_reply_to_uri WHERE n.uri = ?",
        [(nid, a, v, why, d, at, uri) for uri, nid, a, v, why, d, at in feedback],
    )
    # The like and boost rows' days, from their times (Python computes days: portable SQL).
    stamped = await state.db.fetchall("SELECT id, created_at FROM ai_feedback WHERE day = ''")
    await state.db.executemany(
        "UPDATE ai_feedback SET day = ? WHERE id = ?",
        [(day_of(float(r[1])), int(r[0])) for r in stamped],
    )
    await state.db.execute("DELETE FROM jobs")
    count = int(await state.db.fetchval("SELECT COUNT(*) FROM ai_feedback") or 0)
    assert count == rows, count
    return {"answers": answers, "feedback_rows": count, "seed_s": time.perf_counter() - started}


async def _admin_token(state: State) -> str:
    admin = await ensure_account(state, "root", role="user")
    await actors.set_admin(state.db, admin.actor.id, True)
    return await session_token(state, admin.actor.id)


async def _measure(config_path: Path, token: str, repeat: int) -> list[dict[str, Any]]:
    app = create_app(load_config(config_path), embedded_worker=False)
    headers = {"Accept": "text/html", "Cookie": f"{SESSION_COOKIE}={token}"}
    rows: list[dict[str, Any]] = []
    async with app.test_app() as test_app:
        client = test_app.test_client()
        for path in ("/admin", "/admin/ai", "/admin/ai?days=90"):
            body, times = await time_page(client, path, headers, repeat)
            p50 = percentile(times, 50)
            rows.append(
                {
                    "page": path,
                    "bytes": len(body),
                    "charts": body.count(b"<svg"),
                    "p50 ms": p50,
                    "p99 ms": percentile(times, 99),
                    "× /admin": p50 / rows[0]["p50 ms"] if rows else 1.0,
                }
            )
    return rows


async def _prepare(config_path: Path, answers: int, rows: int) -> tuple[dict[str, Any], str]:
    async with open_state(load_config(config_path)) as state:
        seed = await _seed(state, answers, rows, random.Random(16))
        token = await _admin_token(state)
    return seed, token


def run() -> dict[str, Any]:
    rows = pick(10_000, 2_000)
    answers = pick(1_000, 200)
    with tempfile.TemporaryDirectory(prefix="bench-admin-ai-") as tmp:
        config_path = init_instance(tmp)
        seed, token = asyncio.run(_prepare(config_path, answers, rows))
        measured = asyncio.run(_measure(config_path, token, pick(50, 10)))
    print(table("AI feedback seed", [seed]))
    print(table(f"/admin/ai vs /admin, {rows:,} feedback rows (server-side)", measured))
    data = {**seed, "rows": measured}
    write_result("admin_ai", data)
    return data


if __name__ == "__main__":
    run()
