"""Thread context for a mention: its ancestors through inReplyTo, fetched and cached."""

from __future__ import annotations

import logging

from ..ai.prompt import ContextPost
from ..consent import allows_ai
from ..errors import FediverseError
from ..federation import remote_notes, resolver
from ..models import Actor, Note, Visibility
from ..sanitize import html_to_text
from ..state import State
from ..storage import actors, notes, quotes

log = logging.getLogger(__name__)


def describe(actor: Actor) -> str:
    name = actor.display_name or actor.username
    return f"{name} (@{actor.acct})"


def may_quote(parent: Note, *, reply: Visibility, asker: Actor, ai_actor_id: int) -> bool:
    """Whether an answer of visibility ``reply`` may read ``parent``: never to a wider audience.

    Whatever the AI reads may surface in its answer, so an ancestor is used only when everyone
    the answer reaches could already read it. Public and unlisted posts: anyone. Otherwise the
    answer's audience must be inside the ancestor's, as far as we can tell from its addressing:
    a direct answer (to the asker alone) may read what the asker wrote or was addressed by; a
    followers-only answer (the AI's followers and the asker) only the AI's own followers-only
    posts that also addressed the asker. A public or unlisted answer reads nothing else, the
    AI's own posts included.
    """
    if parent.visibility in ("public", "unlisted"):
        return True
    addressed = asker.uri in (*parent.to, *parent.cc)
    if reply == "direct":
        return parent.actor_id == asker.id or addressed
    if reply == "followers":
        return parent.actor_id == ai_actor_id and parent.visibility == "followers" and addressed
    return False


async def may_read(state: State, author: Actor, *, asker: Actor, ai_actor_id: int) -> bool:
    """Whether the AI reads ``author``'s post as context for someone else's question.

    The asker's own posts and the AI's are read: asking is consent. Anyone else's only with
    their consent to AI use (:func:`allows_ai`: ``indexable``, no opt-out hashtag, and for a
    local author their switch). A post left out is skipped silently: naming it would tell the
    model, and through it the asker, what the author chose to keep out.
    """
    if author.id in (asker.id, ai_actor_id):
        return True
    return await allows_ai(state, author)


async def ancestors(
    state: State, note: Note, *, ai_actor_id: int, reply: Visibility, asker: Actor
) -> list[ContextPost]:
    """Up to ``context_depth`` ancestors, oldest first; opted-out authors are left out, and
    so are posts the answer (of visibility ``reply``) must not quote (:func:`may_quote`).

    Unknown parents are fetched from their origin (signed, SSRF-guarded) and stored,
    so a second mention in the same thread costs no fetch.
    """
    out: list[ContextPost] = []
    seen = {note.uri}
    uri = note.in_reply_to_uri
    budget = state.config.ai.context_chars
    while uri and len(out) < state.config.ai.context_depth and budget > 0 and uri not in seen:
        seen.add(uri)
        parent = await load_note(state, uri)
        if parent is None:
            break
        author = await actors.by_id(state.db, parent.actor_id)
        if author is None:
            break
        readable = may_quote(parent, reply=reply, asker=asker, ai_actor_id=ai_actor_id)
        if readable and await may_read(state, author, asker=asker, ai_actor_id=ai_actor_id):
            text = "\n\n".join(t for t in (parent.title, html_to_text(parent.content)) if t)
            by_ai = parent.actor_id == ai_actor_id
            out.append(ContextPost(describe(author), text, by_ai, note_id=parent.id))
            budget -= len(text)
        uri = parent.in_reply_to_uri
    out.reverse()
    return out


async def quoted_post(
    state: State, note: Note, *, ai_actor_id: int, reply: Visibility, asker: Actor
) -> list[ContextPost]:
    """The post ``note`` quotes ("@ai is this true?"), as one more untrusted context post,
    under the rules of :func:`ancestors`: readable by the answer's audience, author not opted
    out. Fetched when the quote's own check has not run yet (the answer jumps the queue)."""
    quote = await quotes.of_note(state.db, note.id)
    quoted = await load_note(state, quote.quoted_uri) if quote else None
    author = await actors.by_id(state.db, quoted.actor_id) if quoted else None
    if quoted is None or author is None:
        return []
    if not may_quote(quoted, reply=reply, asker=asker, ai_actor_id=ai_actor_id):
        return []
    if not await may_read(state, author, asker=asker, ai_actor_id=ai_actor_id):
        return []
    text = "\n\n".join(t for t in (quoted.title, html_to_text(quoted.content)) if t)
    text = text[: state.config.ai.context_chars]
    who = f"{describe(author)}, in the post quoted by the question"
    return [ContextPost(who, text, quoted.actor_id == ai_actor_id, note_id=quoted.id)]


async def load_note(state: State, uri: str) -> Note | None:
    """The note at ``uri``: stored, or fetched from its origin and stored (None if neither)."""
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
