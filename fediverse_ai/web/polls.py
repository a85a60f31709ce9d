"""Polls on our pages: the results with bars and percentages, the vote form in the card,
the vote route, and the poll part of the compose form."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from quart import Quart, Response, request

from ..as2_poll import MAX_OPTIONS
from ..errors import BadRequest
from ..federation import polls as poll_federation
from ..models import POLL_MAX_OPTIONS, NewPoll, Note
from ..state import State
from ..storage import polls
from .actions import visible_note
from .auth import Viewer, require_login, safe_next
from .common import StateHolder, see_other
from .when import span

#: The compose form's durations (seconds, label), Mastodon's choices.
DURATIONS: tuple[tuple[int, str], ...] = (
    (300, "5 minutes"),
    (1800, "30 minutes"),
    (3600, "1 hour"),
    (6 * 3600, "6 hours"),
    (24 * 3600, "1 day"),
    (3 * 24 * 3600, "3 days"),
    (7 * 24 * 3600, "7 days"),
)
DEFAULT_DURATION = 24 * 3600
POLL_FIELDS = (
    *(f"poll_option{i}" for i in range(POLL_MAX_OPTIONS)),
    "poll_multiple",
    "poll_duration",
)


@dataclass(frozen=True)
class OptionView:
    position: int
    title: str
    votes: int
    percent: int
    mine: bool


@dataclass(frozen=True)
class PollView:
    note_id: int
    multiple: bool
    options: list[OptionView]
    voters: int
    closed: bool
    when: str  # "closes in 3 hours", "closed"
    voted: bool
    can_vote: bool


def poll_view(note: Note, poll: polls.Poll, mine: set[int], v: Viewer, now: float) -> PollView:
    """Percentages as Mastodon shows them: of the voters when several choices are allowed
    (the bars then add up to more than 100), of the votes otherwise."""
    total = poll.votes_total
    voters = poll.voters_count if poll.voters_count is not None else total
    base = voters if poll.multiple and voters else total
    is_open = poll.is_open(now)
    if is_open:
        when = f"closes in {span(poll.end_time - now)}" if poll.end_time else "open"
    else:
        when = "closed"
    return PollView(
        note_id=note.id,
        multiple=poll.multiple,
        options=[
            OptionView(
                position=i,
                title=title,
                votes=votes,
                percent=round(100 * votes / base) if base else 0,
                mine=i in mine,
            )
            for i, (title, votes) in enumerate(poll.options)
        ],
        voters=voters,
        closed=not is_open,
        when=when,
        voted=bool(mine),
        can_vote=v.account is not None and is_open and not mine and v.actor_id != note.actor_id,
    )


async def poll_views(state: State, items: Sequence[Note], v: Viewer) -> Mapping[int, PollView]:
    """The polls among ``items``, as the viewer sees them, in two queries."""
    found = await polls.for_notes(state.db, [n.id for n in items])
    if not found:
        return {}
    mine = (
        await polls.choices_of(state.db, v.actor_id, list(found)) if v.actor_id is not None else {}
    )
    now = state.now()
    return {
        n.id: poll_view(n, found[n.id], mine.get(n.id, set()), v, now)
        for n in items
        if n.id in found
    }


def read_poll_form(raw: Mapping[str, str]) -> NewPoll | None:
    """The compose form's poll: None when no option was written."""
    titles = tuple(
        t for i in range(POLL_MAX_OPTIONS) if (t := raw.get(f"poll_option{i}", "").strip()[:200])
    )
    if not titles:
        return None
    try:
        duration = int(raw.get("poll_duration", DEFAULT_DURATION))
    except ValueError:
        raise BadRequest("choose how long the poll runs") from None
    return NewPoll(titles=titles, multiple=raw.get("poll_multiple") == "1", duration=duration)


def register(app: Quart, holder: StateHolder) -> None:
    @app.post("/notes/<int:note_id>/vote")
    async def vote(note_id: int) -> Response:
        state = holder.state
        account = require_login()
        note = await visible_note(state, note_id)
        form = await request.form
        try:
            choices = [int(c) for c in form.getlist("choice")[:MAX_OPTIONS]]
        except ValueError:
            raise BadRequest("no such option in this poll") from None
        if not choices:
            raise BadRequest("choose an option to vote")
        await poll_federation.vote(state, account, note, choices)
        return see_other(safe_next(form.get("next"), f"/notes/{note_id}"), 303)
