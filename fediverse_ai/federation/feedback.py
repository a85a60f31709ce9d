"""Feedback on the AI's answers: what people do with them, recorded per answer.

A like or a boost of one of the AI's answer posts (from another server's inbox, from our web
pages or from the client API) is recorded as it is stored. A reply to one queues a durable job
(``ai_feedback``, one per reply) that classifies its words (:mod:`..ai.feedback`) and records
the verdict. Consent: the words of an author who keeps their posts out of AI processing (their
switch on /settings/ai; ``indexable: false`` or #nobot/#noai/#nollm for a remote author) are
never read: their reply counts as one reply, verdict ``withheld``, as a like counts as one like.
"""

from __future__ import annotations

import logging
from typing import Any

from ..ai.feedback import classify
from ..consent import allows_ai
from ..models import Note
from ..sanitize import html_to_text
from ..state import State
from ..storage import actors, ai_feedback, jobs, notes

log = logging.getLogger(__name__)
FEEDBACK_JOB = "ai_feedback"
WITHHELD = "not read: the author keeps their posts out of AI processing"


async def _answer_of(state: State, note: Note) -> str | None:
    """The mention that ``note`` answers, when it is a post of one of the AI's answers."""
    ai = await actors.account_by_role(state.db, "ai")
    if ai is None or note.actor_id != ai.actor.id:
        return None
    return await ai_feedback.answer_of(state.db, note.uri, ai.actor.id)


async def on_reaction(state: State, note: Note, actor_id: int, *, kind: str, emoji: str) -> None:
    """A reaction was just stored: a like is praise, an emoji reaction what its emoji says
    (👎 is a complaint). The emoji is the reaction itself, not the author's post."""
    mention = await _answer_of(state, note)
    if mention is None:
        return
    verdict = classify(emoji) if emoji else None
    negative = verdict is not None and verdict.label == "negative"
    await ai_feedback.add_like(
        state.db,
        mention_uri=mention,
        note_id=note.id,
        actor_id=actor_id,
        reaction_kind=kind,
        emoji=emoji,
        verdict="negative" if negative else "positive",
        reason=verdict.reason if verdict is not None and negative else "",
        now=state.now(),
    )


async def on_boost(state: State, note: Note, actor_id: int) -> None:
    mention = await _answer_of(state, note)
    if mention is not None:
        await ai_feedback.add_boost(
            state.db, mention_uri=mention, note_id=note.id, actor_id=actor_id, now=state.now()
        )


async def queue_reply(state: State, note: Note, ai_actor_id: int) -> bool:
    """Queue the reading of a new note that replies to a post of the AI; True when queued.

    Cheap for every other note: only a reply to one of our own posts costs a look-up. An
    edited reply is read again (one job per version): "great" edited into "wrong" is wrong.
    """
    parent_uri = note.in_reply_to_uri
    if note.actor_id == ai_actor_id or not parent_uri or not state.urls.is_local(parent_uri):
        return False
    parent = await notes.by_uri(state.db, parent_uri)
    if parent is None or parent.actor_id != ai_actor_id:
        return False
    return await jobs.enqueue(
        state.db,
        FEEDBACK_JOB,
        {"note_uri": note.uri},
        now=state.now(),
        dedupe_key=f"feedback:{note.uri}" + (f"@{note.updated}" if note.updated else ""),
    )


async def queue_edit(state: State, note: Note) -> None:
    """An edited note: read again if it replies to the AI (its row is then updated)."""
    ai = await actors.account_by_role(state.db, "ai")
    if ai is not None and await queue_reply(state, note, ai.actor.id):
        state.work_queued()


async def classify_reply(state: State, payload: dict[str, Any]) -> None:
    """Worker entry: classify one reply to an answer and record it (once: the row is unique
    per reply, so a rerun after a crash records nothing twice)."""
    reply = await notes.by_uri(state.db, str(payload["note_uri"]))
    if reply is None or not reply.in_reply_to_uri:
        return  # deleted before we got to it
    parent = await notes.by_uri(state.db, reply.in_reply_to_uri)
    author = await actors.by_id(state.db, reply.actor_id)
    mention = await _answer_of(state, parent) if parent is not None else None
    if parent is None or author is None or mention is None:
        return
    label, reason = "withheld", WITHHELD
    if await allows_ai(state, author):
        verdict = classify(html_to_text(reply.content))
        label, reason = verdict.label, verdict.reason
    await ai_feedback.add_reply(
        state.db,
        mention_uri=mention,
        answer_note_id=parent.id,
        reply_note_id=reply.id,
        actor_id=author.id,
        verdict=label,
        reason=reason,
        now=state.now(),
    )
    log.info("feedback on the AI's answer to %s: %s (%s)", mention, label, reason)
