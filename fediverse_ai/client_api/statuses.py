"""Statuses: create (with Idempotency-Key), show, delete, context, favourite, reblog, and who
favourited or reblogged. Effects go through the same domain functions as the web UI's forms
(``federation.publish``, ``federation.interactions``), so delivery, the AI's answers to
mentions, consent and quotas behave the same whichever way a post was made."""

from __future__ import annotations

from typing import Any

from quart import Blueprint, Response, request

from ..addressing import narrowest
from ..as2_quote import QUOTE_POLICIES
from ..errors import BadRequest, Forbidden, NotFound
from ..federation import interactions, note_changes, publish
from ..models import VISIBILITIES, Draft, Visibility
from ..state import State
from ..storage import actors, client_api, timelines
from ..urls import new_status_id
from ..web.common import StateHolder, json_response
from . import lookup, media, params, polls, relations, saved
from .entities import Builder
from .errors import Invalid, RecordNotFound
from .tokens import optional, user, viewer_of

ANCESTORS_MAX = 40
DESCENDANTS_MAX = 300
IDEMPOTENCY_KEY_MAX = 200


def language_of(p: dict[str, Any]) -> str | None:
    """The ``language`` parameter: an ISO 639 code such as ``en`` or ``pt-BR``, or none."""
    language = (params.text(p, "language", limit=20) or "").strip() or None
    if language is not None and (len(language) > 8 or not language.replace("-", "").isalnum()):
        raise Invalid("Language is not a valid language code")
    return language


async def _create(state: State, p: dict[str, Any], key: str | None, grant: Any) -> Response:
    account = grant.account
    text = params.text(p, "status", limit=publish.MAX_TEXT * 4) or ""
    attachments = await media.attachments_for_status(state, account, params.strings(p, "media_ids"))
    if not text.strip() and not attachments:
        raise Invalid("Text can't be blank")
    visibility = params.text(p, "visibility", limit=20) or "public"
    if visibility == "private":
        visibility = "followers"  # Mastodon's name for followers-only
    if visibility not in VISIBILITIES:
        raise Invalid("Visibility is not one of public, unlisted, private, direct")
    language = language_of(p)
    summary = (params.text(p, "spoiler_text", limit=2000) or "").strip()[:500] or None
    parent = None
    reply_to = params.text(p, "in_reply_to_id", limit=40)
    if reply_to:
        try:
            parent, _ = await lookup.status(state, account.actor, reply_to)
        except RecordNotFound:
            raise Invalid("the status replied to was not found") from None
    quoted = None
    quoted_id = params.text(p, "quoted_status_id", limit=40)
    if quoted_id:  # Mastodon 4.5's quote posts
        try:
            quoted, _ = await lookup.status(state, account.actor, quoted_id)
        except RecordNotFound:
            raise Invalid("the status quoted was not found") from None
    policy = params.text(p, "quote_approval_policy", limit=20)
    vis: Visibility = visibility
    if parent is not None:
        vis = narrowest(parent.visibility, vis)
    status_id = None
    if key:
        status_id = await client_api.idempotent_status_id(
            state.db, account.actor.id, key, new_status_id(state.now()), now=state.now()
        )
    try:
        note = await publish.publish_note(
            state,
            account,
            Draft(
                text=text,
                visibility=vis,
                summary=summary,
                language=language,
                in_reply_to=parent.uri if parent else None,
                sensitive=params.flag(p, "sensitive"),
                attachments=attachments,
                poll=polls.new_poll(p),
                quote=quoted.uri if quoted else None,
                quote_policy=policy if policy in QUOTE_POLICIES else None,
            ),
            status_id=status_id,
        )
    except (BadRequest, Forbidden, NotFound) as exc:  # a quote its author does not allow
        raise Invalid(exc.message) from None
    await client_api.set_status_app(state.db, note.id, grant.app.id)
    return json_response(await Builder(state, account.actor).status(note))


def register(bp: Blueprint, holder: StateHolder) -> None:
    @bp.post("/api/v1/statuses")
    async def create_status() -> Response:
        state = holder.state
        _, grant = await user(state, "write:statuses")
        key = request.headers.get("Idempotency-Key", "").strip()[:IDEMPOTENCY_KEY_MAX] or None
        return await _create(state, await params.read(), key, grant)

    @bp.get("/api/v1/statuses/<status_id>")
    async def show_status(status_id: str) -> Response:
        state = holder.state
        viewer = viewer_of(await optional(state))
        note, announce = await lookup.status(state, viewer, status_id)
        build = Builder(state, viewer)
        if announce is not None:
            booster = await actors.by_id(state.db, announce.actor_id)
            if booster is None:
                raise RecordNotFound()
            return json_response(await build.reblog(announce, note, booster))
        return json_response(await build.status(note))

    @bp.delete("/api/v1/statuses/<status_id>")
    async def delete_status(status_id: str) -> Response:
        state = holder.state
        account, _ = await user(state, "write:statuses")
        note, announce = await lookup.status(state, account.actor, status_id)
        if announce is not None or note.actor_id != account.actor.id:
            raise RecordNotFound()
        doc = await Builder(state, account.actor).status(note)
        doc["text"] = note.source or ""  # Mastodon returns the source for "delete and redraft"
        await note_changes.delete_note(state, account, note.uri)
        return json_response(doc)

    @bp.get("/api/v1/statuses/<status_id>/context")
    async def context(status_id: str) -> Response:
        state = holder.state
        viewer = viewer_of(await optional(state))
        note, _ = await lookup.status(state, viewer, status_id)
        up = await lookup.visible(
            state, viewer, await timelines.ancestors(state.db, note, limit=ANCESTORS_MAX)
        )
        tree = await timelines.descendants(state.db, note.uri, limit=DESCENDANTS_MAX)
        down = await lookup.visible(state, viewer, [n for n, _ in tree])
        hidden = (await relations.hidden(state, viewer)).from_timelines  # as the web thread
        up = [n for n in up if n.actor_id not in hidden]
        down = [n for n in down if n.actor_id not in hidden]
        build = Builder(state, viewer)
        return json_response(
            {"ancestors": await build.statuses(up), "descendants": await build.statuses(down)}
        )

    @bp.post("/api/v1/statuses/<status_id>/<action>")
    async def status_action(status_id: str, action: str) -> Response:
        state = holder.state
        if action in saved.ACTIONS:
            return await saved.keep(state, status_id, action)
        scope = "write:favourites" if action in ("favourite", "unfavourite") else "write:statuses"
        if action not in ("favourite", "unfavourite", "reblog", "unreblog"):
            raise RecordNotFound()
        account, _ = await user(state, scope)
        note, _ = await lookup.status(state, account.actor, status_id)
        build = Builder(state, account.actor)
        if action == "favourite":
            await interactions.like(state, account, note.uri)
        elif action == "unfavourite":
            await interactions.unlike(state, account, note.uri)
        elif action == "unreblog":
            await interactions.unboost(state, account, note.uri)
        else:
            if note.visibility not in ("public", "unlisted"):
                raise Invalid("a followers-only or direct status cannot be reblogged")
            await interactions.boost(state, account, note.uri)
            announce = await client_api.announce_of(state.db, account.actor.id, note.id)
            if announce is not None:
                return json_response(await build.reblog(announce, note, account.actor))
        return json_response(await build.status(note))

    @bp.get("/api/v1/statuses/<status_id>/<who>")
    async def who_reacted(status_id: str, who: str) -> Response:
        state = holder.state
        if who not in ("favourited_by", "reblogged_by"):
            raise RecordNotFound()
        viewer = viewer_of(await optional(state))
        note, _ = await lookup.status(state, viewer, status_id)
        pg = params.page(default=40, cap=80)
        query = client_api.favourited_by if who == "favourited_by" else client_api.reblogged_by
        rows = await query(state.db, note.id, pg.window())
        docs = await Builder(state, viewer).accounts([a for _, a in rows])
        return params.paged(state, docs, pg.limit, [str(i) for i, _ in rows])
