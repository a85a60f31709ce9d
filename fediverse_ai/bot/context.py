"""Thread context for a mention: its ancestors through inReplyTo, fetched and cached."""

from __future__ import annotations

import logging

from ..ai.consent import opted_out
from ..ai.prompt import ContextPost
from ..errors import FediverseError
from ..federation import remote_notes, resolver
from ..models import Actor, Note
from ..sanitize import html_to_text
from ..state import State
from ..storage import actors, notes

log = logging.getLogger(__name__)


def describe(actor: Actor) -> str:
    name = actor.display_name or actor.username
    return f"{name} (@{actor.acct})"


async def ancestors(state: State, note: Note, *, ai_actor_id: int) -> list[ContextPost]:
    """Up to ``context_depth`` ancestors, oldest first; opted-out authors are left out.

    Unknown parents are fetched from their origin (signed, SSRF-guarded) and stored,
    so a second mention in the same thread costs no fetch.
    """
    out: list[ContextPost] = []
    seen = {note.uri}
    uri = note.in_reply_to_uri
    budget = state.config.ai.context_chars
    while uri and len(out) < state.config.ai.context_depth and budget > 0 and uri not in seen:
        seen.add(uri)
        parent = await _load(state, uri)
        if parent is None:
            break
        author = await actors.by_id(state.db, parent.actor_id)
        if author is None:
            break
        readable = parent.visibility in ("public", "unlisted") or parent.actor_id == ai_actor_id
        if readable and not opted_out(author.summary, author.fields):
            text = html_to_text(parent.content)
            out.append(ContextPost(describe(author), text, parent.actor_id == ai_actor_id))
            budget -= len(text)
        uri = parent.in_reply_to_uri
    out.reverse()
    return out


async def _load(state: State, uri: str) -> Note | None:
    found = await notes.by_uri(state.db, uri)
    if found is not None or state.urls.is_local(uri):
        return found
    try:
        incoming = await resolver.fetch_note(state, uri)
        author = await resolver.fetch_actor(state, incoming.attributed_to)
        await remote_notes.store(state, incoming, author)
    except FediverseError as exc:
        log.info("context %s not fetched: %s", uri, exc.message)
        return None
    return await notes.by_uri(state.db, uri)
