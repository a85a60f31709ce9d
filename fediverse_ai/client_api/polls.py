"""Polls: ``GET /api/v1/polls/:id``, ``POST /api/v1/polls/:id/votes`` (``choices[]``), and
the ``poll`` of a new status (``poll[options][]``, ``poll[expires_in]``, ``poll[multiple]``).

Votes go through the web UI's vote (``federation.polls.vote``): counted for our polls, and for a
remote poll sent to its author as Mastodon sends votes. A poll's id is its status's."""

from __future__ import annotations

from typing import Any

from quart import Blueprint, Response

from ..errors import BadRequest, Forbidden, NotFound
from ..federation import polls as poll_federation
from ..models import POLL_MAX_OPTIONS, Actor, NewPoll
from ..state import State
from ..storage import polls
from ..web.common import StateHolder, json_response
from . import lookup, params
from .errors import Invalid, RecordNotFound
from .extras import polls_for
from .tokens import optional, user, viewer_of


def new_poll(p: dict[str, Any]) -> NewPoll | None:
    """The ``poll`` of ``POST /api/v1/statuses``, from a form (``poll[options][]``) or JSON
    (``{"poll": {"options": […]}}``); None without one."""
    nested = p.get("poll")
    fields = nested if isinstance(nested, dict) else {}
    options = fields.get("options", p.get("poll[options]"))
    if options is None:
        return None
    if not isinstance(options, list) or len(options) > POLL_MAX_OPTIONS * 4:
        raise Invalid("poll options must be a list")
    raw_expiry = fields.get("expires_in", p.get("poll[expires_in]"))
    try:
        expires_in = float(str(raw_expiry))
    except ValueError:
        raise Invalid("poll expires_in must be a number of seconds") from None
    multiple = params.flag({"m": fields.get("multiple", p.get("poll[multiple]"))}, "m")
    return NewPoll(
        titles=tuple(str(o)[:200] for o in options), multiple=multiple, duration=expires_in
    )


async def _poll(state: State, viewer: Actor | None, raw: str) -> dict[str, Any]:
    note, announce = await lookup.status(state, viewer, raw)
    found = await polls_for(state, viewer, [note.id]) if announce is None else {}
    if note.id not in found:
        raise RecordNotFound()
    return found[note.id]


def register(bp: Blueprint, holder: StateHolder) -> None:
    @bp.get("/api/v1/polls/<poll_id>")
    async def show_poll(poll_id: str) -> Response:
        state = holder.state
        viewer = viewer_of(await optional(state))
        return json_response(await _poll(state, viewer, poll_id))

    @bp.post("/api/v1/polls/<poll_id>/votes")
    async def vote(poll_id: str) -> Response:
        state = holder.state
        account, _ = await user(state, "write:statuses")
        me = account.actor
        note, announce = await lookup.status(state, me, poll_id)
        if announce is not None or await polls.by_note(state.db, note.id) is None:
            raise RecordNotFound()
        choices = []
        for raw in params.strings(await params.read(), "choices", most=POLL_MAX_OPTIONS * 4):
            number = params.object_id(raw.strip())
            if number is None:
                raise Invalid("choices must be option numbers")
            choices.append(number)
        if not choices:
            raise Invalid("choose an option to vote")
        try:
            await poll_federation.vote(state, account, note, choices)
        except (BadRequest, Forbidden, NotFound) as exc:  # closed, voted, one's own poll
            raise Invalid(exc.message) from None
        return json_response(await _poll(state, me, poll_id))
