"""Accounts: verify_credentials, show, lookup, statuses, followers, following, relationships,
follow and unfollow (search is ``search.py``)."""

from __future__ import annotations

from quart import Blueprint, Response, request

from ..errors import NotFollowable
from ..federation import interactions
from ..models import Actor
from ..state import State
from ..storage import actors, client_api, follows, saved
from ..web.common import StateHolder, json_response
from . import lookup, params
from .entities import Builder
from .errors import ApiError, Invalid, RecordNotFound
from .tokens import optional, user, viewer_of


async def _visibilities(state: State, viewer: Actor | None, actor: Actor) -> tuple[str, ...]:
    if viewer is not None and viewer.id == actor.id:
        return ("public", "unlisted", "followers", "direct")
    relation = await follows.get(state.db, viewer.id, actor.id) if viewer else None
    if relation is not None and relation.state == "accepted":
        return ("public", "unlisted", "followers")
    return ("public", "unlisted")


async def by_handle(state: State, handle: str) -> Actor | None:
    """A stored account by ``user`` or ``user@domain`` (our own domain is a local user)."""
    username, _, domain = handle.strip().lstrip("@").partition("@")
    inst = state.config.instance
    if not username:
        return None
    if not domain or domain.lower() in (inst.domain, inst.host):
        return await actors.local_by_username(state.db, username.lower())
    return await actors.by_acct(state.db, username, domain.lower())


def register(bp: Blueprint, holder: StateHolder) -> None:
    @bp.get("/api/v1/accounts/verify_credentials")
    async def verify_credentials() -> Response:
        state = holder.state
        account, _ = await user(state, "read:accounts", "profile")
        return json_response(await Builder(state, account.actor).credential_account(account.actor))

    @bp.get("/api/v1/accounts/lookup")
    async def lookup_account() -> Response:
        state = holder.state
        viewer = viewer_of(await optional(state))
        handle = request.args.get("acct", "")[:300]
        if not handle:
            raise Invalid("acct is missing")
        found = await by_handle(state, handle)
        if found is None:
            raise RecordNotFound()
        return json_response(await Builder(state, viewer).account(found))

    @bp.get("/api/v1/accounts/relationships")
    async def relationships() -> Response:
        state = holder.state
        account, _ = await user(state, "read:follows")
        wanted = [
            i
            for raw in request.args.getlist("id[]") + request.args.getlist("id")
            if (i := params.object_id(raw)) is not None
        ][:100]
        found = await actors.by_ids(state.db, wanted)
        others = [found[i] for i in wanted if i in found]
        return json_response(await Builder(state, account.actor).relationships(others))

    @bp.get("/api/v1/accounts/<account_id>")
    async def show_account(account_id: str) -> Response:
        state = holder.state
        viewer = viewer_of(await optional(state))
        return json_response(
            await Builder(state, viewer).account(await lookup.account(state, account_id))
        )

    @bp.get("/api/v1/accounts/<account_id>/statuses")
    async def account_statuses(account_id: str) -> Response:
        state = holder.state
        viewer = viewer_of(await optional(state))
        actor = await lookup.account(state, account_id)
        pg = params.page()
        p = dict(request.args)
        if params.flag(p, "pinned"):
            # At most five, all on one page (no Link), as Mastodon answers.
            shown = await lookup.visible(state, viewer, await saved.pinned(state.db, actor.id))
            return json_response(await Builder(state, viewer).statuses(shown))
        items = await client_api.account_statuses(
            state.db,
            actor.id,
            pg.window(),
            visibilities=await _visibilities(state, viewer, actor),
            exclude_replies=params.flag(p, "exclude_replies"),
            only_media=params.flag(p, "only_media"),
        )
        items = await lookup.visible(state, viewer, items)
        docs = await Builder(state, viewer).statuses(items)
        return params.paged(state, docs, pg.limit)

    @bp.get("/api/v1/accounts/<account_id>/<kind>")
    async def follow_lists(account_id: str, kind: str) -> Response:
        state = holder.state
        if kind not in ("followers", "following"):
            raise RecordNotFound()
        viewer = viewer_of(await optional(state))
        actor = await lookup.account(state, account_id)
        pg = params.page(default=40, cap=80)
        rows = await client_api.follow_list(
            state.db, actor.id, pg.window(), followers=kind == "followers"
        )
        docs = await Builder(state, viewer).accounts([a for _, a in rows])
        return params.paged(state, docs, pg.limit, [str(i) for i, _ in rows])

    @bp.post("/api/v1/accounts/<account_id>/<action>")
    async def follow_action(account_id: str, action: str) -> Response:
        state = holder.state
        if action not in ("follow", "unfollow"):
            raise RecordNotFound()
        account, _ = await user(state, "write:follows")
        target = await lookup.account(state, account_id)
        if target.id == account.actor.id:
            raise ApiError(403, "You cannot follow yourself")
        if action == "follow":
            p = await params.read()
            # Mastodon's "notify me"; absent, what was chosen before stays
            notify = params.flag(p, "notify") if "notify" in p else None
            try:
                await interactions.follow(state, account, target)
            except NotFollowable as exc:
                raise Invalid(exc.message) from exc
            if notify is not None:
                await follows.set_notify(state.db, account.actor.id, target.id, notify)
        else:
            await interactions.unfollow(state, account, target)
        return json_response((await Builder(state, account.actor).relationships([target]))[0])
