"""Feedback rows on real SQLite: which answer a post is part of, once per cause, gone with it."""

from __future__ import annotations

import dataclasses

from test_storage import T0, db, local_actor, note_row, remote_actor

from fediverse_ai.models import Actor
from fediverse_ai.storage import ai_feedback, ai_replies, notes, reactions
from fediverse_ai.storage.db import Database

__all__ = ["db"]  # the fixture, used by name
MENTION = "https://remote.example/n/ask"


async def chain(
    database: Database, ai: Actor, asker: Actor, parts: int, mention: str = MENTION
) -> list[int]:
    """A mention and the AI's answer to it in ``parts`` posts, each replying to the one before."""
    ids = []
    for k in range(parts):
        parent = mention if k == 0 else f"{mention}/a/{k - 1}"
        row = dataclasses.replace(
            note_row(f"{mention}/a/{k}", ai), in_reply_to_uri=parent, local=True
        )
        note_id = await database.transaction(lambda c, r=row: notes.insert(c, r, now=T0))
        assert note_id is not None
        ids.append(note_id)
    await database.transaction(lambda c: notes.insert(c, note_row(mention, asker), now=T0))
    await ai_replies.reserve(
        database, mention_uri=mention, author_uri=asker.uri, base_status_id="1", now=T0
    )
    await ai_replies.finish(
        database,
        mention,
        state="done",
        reply_uri=f"{mention}/a/0",
        now=T0,
        made_by=ai_replies.MadeBy("openai", "m", "text", ai_replies.day_of(T0)),
    )
    return ids


async def test_every_post_of_an_answer_leads_to_its_mention(db: Database) -> None:
    ai, asker = await local_actor(db, "ai"), await remote_actor(db, "alice")
    await chain(db, ai, asker, 3)
    for k in range(3):
        assert await ai_feedback.answer_of(db, f"{MENTION}/a/{k}", ai.id) == MENTION
    # The mention itself, or a post of someone else's in the thread, is no answer.
    assert await ai_feedback.answer_of(db, MENTION, ai.id) is None
    assert await ai_feedback.answer_of(db, f"{MENTION}/a/1", asker.id) is None


async def test_a_like_counts_once_and_goes_with_its_undo(db: Database) -> None:
    ai, asker = await local_actor(db, "ai"), await remote_actor(db, "alice")
    first, *_ = await chain(db, ai, asker, 2)
    like = {"uri": "https://remote.example/like/1", "kind": "like", "emoji": ""}
    assert await reactions.add_reaction(db, **like, actor_id=asker.id, note_id=first, now=T0)
    for _ in range(2):
        await ai_feedback.add_like(
            db,
            mention_uri=MENTION,
            note_id=first,
            actor_id=asker.id,
            reaction_kind="like",
            emoji="",
            verdict="positive",
            reason="",
            now=T0,
        )
    day = ai_replies.day_of(T0)
    assert await ai_feedback.daily(db, day) == [ai_feedback.Count(day, "like", "positive", 1)]
    [group] = await ai_feedback.groups(db, day)
    assert (group.backend, group.model, group.intent, group.answers, group.likes) == (
        "openai", "m", "text", 1, 1,
    )  # fmt: skip
    assert group.approval == 100.0

    await reactions.remove_reaction(db, uri=like["uri"], actor_id=asker.id, note_id=first)
    assert await ai_feedback.daily(db, day) == []
    assert (await ai_feedback.groups(db, day))[0].approval is None


async def test_the_worst_answers_are_the_most_complained_about(db: Database) -> None:
    ai, asker = await local_actor(db, "ai"), await remote_actor(db, "alice")
    answers = {}
    for name in ("a", "b", "c"):
        [answers[name]] = await chain(db, ai, asker, 1, f"https://remote.example/n/{name}")
    verdicts = {"a": ("negative", "negative", "positive"), "b": ("negative",), "c": ("positive",)}
    for name, said in verdicts.items():
        for k, verdict in enumerate(said):
            reply = note_row(f"https://remote.example/n/{name}/r/{k}", asker)
            reply_id = await db.transaction(lambda c, r=reply, t=T0 + k: notes.insert(c, r, now=t))
            assert reply_id is not None
            await ai_feedback.add_reply(
                db,
                mention_uri=f"https://remote.example/n/{name}",
                answer_note_id=answers[name],
                reply_note_id=reply_id,
                actor_id=asker.id,
                verdict=verdict,
                reason=f"{name}{k}",
                now=T0 + k,
            )
    day = ai_replies.day_of(T0)
    worst = await ai_feedback.worst(db, since_day=day, limit=10)
    # a and b are both one complaint ahead of their praise; a has more complaints.
    assert [(w.mention_uri[-1], w.negative, w.positive) for w in worst] == [
        ("a", 2, 1),
        ("b", 1, 0),
    ]
    assert worst[0].answer_note_id == answers["a"]
    said = await ai_feedback.complaints(db, [w.mention_uri for w in worst], per=1)
    assert [(c.mention_uri[-1], c.reason) for c in said] == [("a", "a1"), ("b", "b0")]
    assert await ai_feedback.worst(db, since_day="2999-01-01", limit=10) == []
