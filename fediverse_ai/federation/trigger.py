"""Notes that mention the AI actor become one durable reply job each."""

from __future__ import annotations

from ..models import Note
from ..state import State
from ..storage import actors, jobs
from . import feedback

AI_REPLY = "ai_reply"
# Answers go ahead of the jobs queued in the last minutes: with every job first-come first-
# served, a burst of mentions is worked breadth-first (all inbox jobs, then all answers), and
# every author waits for the whole burst. Ahead, the first mentions are answered first
# (BENCHMARKS.md). The AI's rate limits and daily budget bound how many can jump the queue.
AHEAD_SECONDS = 300.0


async def on_new_note(state: State, note: Note) -> bool:
    """Queue the AI's answer to ``note`` if it mentions the AI actor; True when queued.

    The dedupe key makes this safe against redelivery and edits: one mention, one job.
    Every new note, local or remote, passes here, so it is also where the client API's
    streams hear of it.
    """
    state.streams.publish("new", note)
    ai = await actors.account_by_role(state.db, "ai")
    if ai is None or note.actor_id == ai.actor.id:
        return False
    if await feedback.queue_reply(state, note, ai.actor.id):
        state.work_queued()
    mentioned = any(t.get("type") == "Mention" and t.get("href") == ai.actor.uri for t in note.tags)
    if not mentioned and ai.actor.uri not in (*note.to, *note.cc):
        return False
    now = state.now()
    queued = await jobs.enqueue(
        state.db,
        AI_REPLY,
        {"note_uri": note.uri},
        now=now,
        dedupe_key=f"reply:{note.uri}",
        run_after=now - AHEAD_SECONDS,
    )
    if queued:
        state.work_queued()
    return queued
