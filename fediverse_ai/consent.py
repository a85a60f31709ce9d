"""Whether the AI may use a person's posts beyond answering them: one rule for every use.

The For-you embeddings, the thread context the AI reads when someone else asks it, and any
scoring of posts by a model all ask :func:`allows_ai`. A remote author says no with
``indexable: false`` (or by not saying yes: Mastodon's reading of a missing ``indexable``) or
with #nobot/#noai/#nollm in their name, bio or profile fields; a local author also with the
"keep my posts out of AI processing" switch on /settings/ai.
"""

from __future__ import annotations

from .ai.consent import author_allows_ai
from .models import Actor
from .state import State
from .storage import embeddings


async def allows_ai(state: State, author: Actor) -> bool:
    switch = True
    if author.local:
        switch = (await embeddings.preferences(state.db, author.id)).ai_may_use_posts
    return author_allows_ai(author, local_switch=switch)


async def requeue_if_allowed_again(state: State, before: Actor | None, after: Actor) -> int:
    """Queue the For-you embeddings of an author's recent posts when their consent came back
    (``indexable`` on again, an opt-out hashtag removed): an opt-out dropped the vectors, and
    nothing else would compute them again. Bounded by ``embeddings.REQUEUE_LIMIT``; the jobs
    check consent once more when they run."""
    if before is None or await allows_ai(state, before) or not await allows_ai(state, after):
        return 0
    now = state.now()
    window = state.config.ai_foryou.window_days * 86_400
    queued = await embeddings.requeue_author(state.db, after.id, since=now - window, now=now)
    if queued:
        state.work_queued(queued)
    return queued
