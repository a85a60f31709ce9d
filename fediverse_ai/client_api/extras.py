"""The parts of a Status entity that come from their own tables: ``poll`` (Mastodon's Poll)
and ``quote`` (Mastodon 4.5's Quote: the quoted status and whether its author approved)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from ..models import Actor, Note
from ..state import State
from ..storage import notes, polls, quotes
from ..storage.polls import Poll
from .lookup import visible
from .times import iso

#: Our quote states in Mastodon's words; a quote without FEP-044f approval ("legacy": a
#: quoteUrl alone) is shown, as Mastodon shows the quotes it received before 4.5.
QUOTE_STATES = {
    "pending": "pending",
    "accepted": "accepted",
    "rejected": "rejected",
    "revoked": "revoked",
    "legacy": "accepted",
}


def poll_entity(poll: Poll, now: float, own: set[int] | None) -> dict[str, Any]:
    """A Poll entity; ``own``: the viewer's choices (None for an anonymous viewer)."""
    closes = poll.closed_at if poll.closed_at is not None else poll.end_time
    return {
        "id": str(poll.note_id),
        "expires_at": iso(closes),
        "expired": not poll.is_open(now),
        "multiple": poll.multiple,
        "votes_count": poll.votes_total,
        "voters_count": poll.voters_count,
        "options": [{"title": title, "votes_count": votes} for title, votes in poll.options],
        "emojis": [],
        "voted": bool(own) if own is not None else None,
        "own_votes": sorted(own) if own is not None else None,
    }


async def polls_for(
    state: State, viewer: Actor | None, note_ids: Sequence[int]
) -> dict[int, dict[str, Any]]:
    found = await polls.for_notes(state.db, note_ids)
    if not found:
        return {}
    mine = await polls.choices_of(state.db, viewer.id, list(found)) if viewer else {}
    now = state.now()
    return {
        i: poll_entity(p, now, mine.get(i, set()) if viewer else None) for i, p in found.items()
    }


Render = Callable[[list[Note]], Awaitable[list[dict[str, Any]]]]


async def quotes_for(
    state: State, viewer: Actor | None, note_ids: Sequence[int], render: Render | None
) -> dict[int, dict[str, Any]]:
    """Quote entities of the notes that quote one. With ``render`` the quoted status is given
    whole (when the viewer may see it and its author approved); without, as Mastodon nests
    deeper quotes, by id only (a ShallowQuote)."""
    found = await quotes.for_notes(state.db, note_ids)
    if not found:
        return {}
    quoted: dict[str, Note] = {}
    for q in found.values():
        if (n := await notes.by_uri(state.db, q.quoted_uri)) is not None:
            quoted[q.quoted_uri] = n
    shown = await visible(state, viewer, list(quoted.values()))
    seen = {n.id for n in shown}
    docs = {int(d["id"]): d for d in await render(shown)} if render and shown else {}
    out: dict[int, dict[str, Any]] = {}
    for note_id, q in found.items():
        status = QUOTE_STATES.get(q.state, "pending")
        target = quoted.get(q.quoted_uri)
        if target is None or target.id not in seen:
            out[note_id] = {"state": "deleted" if target is None else "unauthorized"}
        elif render is None:
            out[note_id] = {"state": status, "quoted_status_id": str(target.id)}
        else:
            out[note_id] = {"state": status}
        if render is not None:
            out[note_id]["quoted_status"] = (
                docs.get(target.id) if target and status == "accepted" else None
            )
        elif "quoted_status_id" not in out[note_id]:
            out[note_id]["quoted_status_id"] = None
    return out
