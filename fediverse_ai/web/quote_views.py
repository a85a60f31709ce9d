"""What the cards of quoting posts show: the quoted post, when it may be shown here.

Kept apart from ``views`` so that the cards stay small; ``views.cards`` nests one level of
quoted cards from what this finds (a quote of a quote is a link).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..models import Note
from ..state import State
from ..storage import notes, quotes, timelines
from ..storage.quotes import Quote
from .auth import Viewer
from .media_views import safe_url

#: The mark under a quote the quoted author's server has not vouched for (Mastodon 4.5
#: shows such quotes without their content, as a pending or unavailable quote).
MARKS = {
    "pending": "Quote not confirmed by the author",
    "legacy": "Quote not confirmed by the author",
    "rejected": "The author declined this quote",
    "revoked": "The author removed this quote",
}


@dataclass(frozen=True)
class Quoted:
    quote: Quote
    note: Note | None  # the quoted post, when stored here and visible to the viewer


async def quoted_for(state: State, items: Sequence[Note], viewer: Viewer) -> dict[int, Quoted]:
    """Per quoting note: its quote and the quoted post the viewer may see (if stored)."""
    found = await quotes.for_notes(state.db, [n.id for n in items])
    if not found:
        return {}
    by_uri = {}
    for uri in {q.quoted_uri for q in found.values()}:
        note = await notes.by_uri(state.db, uri)
        if note is not None:
            by_uri[uri] = note
    visible = await timelines.visible_note_ids(
        state.db, [n.id for n in by_uri.values()], viewer.actor_id, viewer.actor_uri
    )
    return {
        note_id: Quoted(q, n if (n := by_uri.get(q.quoted_uri)) and n.id in visible else None)
        for note_id, q in found.items()
    }


def link_of(quoted: Quoted) -> str:
    """Our page of the quoted post when we have it, else its id (only http(s))."""
    if quoted.note is not None:
        return f"/notes/{quoted.note.id}"
    return safe_url(quoted.quote.quoted_uri) or ""
