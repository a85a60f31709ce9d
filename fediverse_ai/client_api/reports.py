"""``POST /api/v1/reports``: a user reports an account and some of its statuses, with a
comment, and (``forward``) a copy to a remote account's server (``federation.moderation``).
The answer is Mastodon's Report entity."""

from __future__ import annotations

from quart import Blueprint, Response

from ..federation import moderation
from ..web.common import StateHolder, json_response
from . import lookup, params
from .entities import Builder
from .errors import ApiError, Invalid
from .times import iso
from .tokens import user

CATEGORIES = ("spam", "legal", "violation", "other")


def register(bp: Blueprint, holder: StateHolder) -> None:
    @bp.post("/api/v1/reports")
    async def create_report() -> Response:
        state = holder.state
        account, _ = await user(state, "write:reports")
        p = await params.read()
        target = await lookup.account(state, params.text(p, "account_id", limit=40) or "")
        if target.id == account.actor.id:
            raise ApiError(422, "You cannot report yourself")
        comment = params.text(p, "comment", limit=moderation.MAX_COMMENT) or ""
        category = params.text(p, "category", limit=20) or "other"
        if category not in CATEGORIES:
            raise Invalid(f"category must be one of {', '.join(CATEGORIES)}")
        posts = []
        for raw in params.strings(p, "status_ids", most=moderation.MAX_REPORTED_POSTS):
            note, _ = await lookup.status(state, account.actor, str(raw))
            if note.actor_id != target.id:
                raise ApiError(422, "Each status must be the reported account's")
            posts.append(note)
        report = await moderation.report(
            state,
            account,
            target,
            posts,
            comment=comment,
            forward=params.flag(p, "forward"),
        )
        status_ids = [str(n.id) for n in posts]
        return json_response(
            {
                "id": str(report.id),
                "action_taken": False,
                "action_taken_at": None,
                "category": category,
                "comment": report.content,
                "forwarded": report.forwarded,
                "created_at": iso(report.created_at),
                "status_ids": status_ids,
                "rule_ids": None,
                "target_account": await Builder(state, account.actor).account(target),
            }
        )
