"""Block, unblock, mute, unmute, and the lists of blocked and muted accounts.

A block is federated (``federation.blocking``) and ends follows both ways; a mute is ours
alone. Both hide the account from the viewer's home and public timelines, notifications
(for a mute, unless ``notifications=false``) and streams: :func:`hidden` is what those
endpoints filter by."""

from __future__ import annotations

from quart import Blueprint, Response, request

from ..federation import blocking
from ..models import Actor
from ..state import State
from ..storage import actors, mutes
from ..web.common import StateHolder, json_response
from . import lookup, params
from .entities import Builder
from .errors import ApiError, Invalid
from .tokens import user

LIST_LIMIT = 80
MAX_MUTE_SECONDS = 10 * 365 * 86400


async def hidden(state: State, viewer: Actor | None) -> mutes.Hidden:
    """Whom ``viewer``'s timelines and notifications leave out (nobody for anonymous)."""
    if viewer is None:
        return mutes.Hidden(frozenset(), frozenset())
    return await mutes.hidden(state.db, viewer.id, now=state.now())


def _duration(raw: str | None) -> float | None:
    """Mastodon's ``duration``: seconds, 0 or absent for "until unmuted"."""
    if raw is None or not raw.strip():
        return None
    value = raw.strip()
    if not value.isdigit() or int(value) > MAX_MUTE_SECONDS:
        raise Invalid("duration must be a number of seconds (0 for indefinitely)")
    return float(value) or None


def register(bp: Blueprint, holder: StateHolder) -> None:
    @bp.post("/api/v1/accounts/<account_id>/block")
    @bp.post("/api/v1/accounts/<account_id>/unblock")
    @bp.post("/api/v1/accounts/<account_id>/mute")
    @bp.post("/api/v1/accounts/<account_id>/unmute")
    async def relation_action(account_id: str) -> Response:
        state = holder.state
        action = request.path.rsplit("/", 1)[1]
        scope = "write:blocks" if action.endswith("block") else "write:mutes"
        account, _ = await user(state, scope)
        target = await lookup.account(state, account_id)
        if target.id == account.actor.id:
            raise ApiError(422, f"You cannot {action} yourself")
        if action == "block":
            await blocking.block(state, account, target)
        elif action == "unblock":
            await blocking.unblock(state, account, target)
        elif action == "mute":
            p = await params.read()
            duration = _duration(params.text(p, "duration", limit=20))
            await mutes.mute(
                state.db,
                account.actor.id,
                target.id,
                notifications=params.flag(p, "notifications", True),
                expires_at=state.now() + duration if duration else None,
                now=state.now(),
            )
        else:
            await mutes.unmute(state.db, account.actor.id, target.id)
        (relation,) = await Builder(state, account.actor).relationships([target])
        return json_response(relation)

    @bp.get("/api/v1/blocks")
    @bp.get("/api/v1/mutes")
    async def relation_list() -> Response:
        state = holder.state
        blocks = request.path.endswith("blocks")
        account, _ = await user(state, "read:blocks" if blocks else "read:mutes")
        limit = params.page(default=40, cap=LIST_LIMIT).limit
        me = account.actor.id
        ids = (
            await mutes.blocked_list(state.db, me, limit)
            if blocks
            else await mutes.muted_list(state.db, me, limit, now=state.now())
        )
        found = await actors.by_ids(state.db, ids)
        docs = await Builder(state, account.actor).accounts([found[i] for i in ids if i in found])
        return json_response(docs)
