"""Markers: ``GET``/``POST /api/v1/markers``, the last read position of the home timeline and
the notifications, shared by every app of the user (Mastodon's "read sync")."""

from __future__ import annotations

from typing import Any

from quart import Blueprint, Response, request

from ..storage import markers
from ..web.common import StateHolder, json_response
from . import params
from .errors import Invalid
from .times import iso
from .tokens import user


def _last_read(p: dict[str, Any], timeline: str) -> str | None:
    """``home[last_read_id]`` of a form, or ``{"home": {"last_read_id": …}}`` of JSON."""
    nested = p.get(timeline)
    raw = nested.get("last_read_id") if isinstance(nested, dict) else None
    if raw is None:
        raw = p.get(f"{timeline}[last_read_id]")
    if raw is None:
        return None
    value = str(raw).strip() if isinstance(raw, str | int) else ""
    if params.object_id(value) is None:
        raise Invalid(f"{timeline} last_read_id must be a status or notification id")
    return value


async def _shown(holder: StateHolder, actor_id: int, timelines: list[str]) -> Response:
    found = await markers.get(holder.state.db, actor_id, timelines)
    return json_response(
        {
            m.timeline: {
                "last_read_id": m.last_read_id,
                "version": m.version,
                "updated_at": iso(m.updated_at),
            }
            for m in found
        }
    )


def register(bp: Blueprint, holder: StateHolder) -> None:
    @bp.get("/api/v1/markers")
    async def get_markers() -> Response:
        account, _ = await user(holder.state, "read:statuses")
        wanted = request.args.getlist("timeline[]") + request.args.getlist("timeline")
        return await _shown(holder, account.actor.id, wanted)

    @bp.post("/api/v1/markers")
    async def save_markers() -> Response:
        state = holder.state
        account, _ = await user(state, "write:statuses")
        p = await params.read()
        # Other timelines are ignored, not refused, as Mastodon does.
        moved = {t: v for t in markers.TIMELINES if (v := _last_read(p, t)) is not None}
        for timeline, last_read_id in moved.items():
            await markers.save(state.db, account.actor.id, timeline, last_read_id, now=state.now())
        return await _shown(holder, account.actor.id, list(moved))
