"""``PATCH /api/v1/accounts/update_credentials`` and the follow requests of a locked account
(``/api/v1/follow_requests``, authorize, reject: the web UI's ``answer_follow_request``).

The change itself (limits, bio rendering, pictures through the media pipeline, the ``Update``
sent to followers) is ``federation.profile_edit``'s, shared with the web and the CLI; this
module reads Mastodon's parameters into it and answers as Mastodon does (422 when refused).
"""

from __future__ import annotations

from typing import Any

from quart import Blueprint, Response, request

from ..errors import NotFound
from ..federation import interactions, profile_edit
from ..federation.profile_edit import MAX_FIELDS, ProfileChange, ProfileInvalid
from ..models import Account
from ..state import State
from ..storage import actors, client_api, follows
from ..web.common import StateHolder, json_response
from . import params
from .entities import Builder
from .errors import Invalid, RecordNotFound
from .tokens import user


def _fields(p: dict[str, Any]) -> tuple[tuple[str, str], ...] | None:
    """``fields_attributes`` as a form sends it (``fields_attributes[0][name]``) or as JSON
    (a list, or an object keyed by index); None when not sent."""
    raw = p.get("fields_attributes")
    items: list[Any]
    if isinstance(raw, list):
        items = raw
    elif isinstance(raw, dict):
        items = [raw[k] for k in sorted(raw, key=lambda k: str(k).zfill(4))]
    else:
        indexed: dict[str, dict[str, Any]] = {}
        for key, value in p.items():
            if key.startswith("fields_attributes[") and key.endswith("]"):
                index, _, name = key[len("fields_attributes[") : -1].partition("][")
                indexed.setdefault(index, {})[name] = value
        if not indexed:
            return None
        items = [indexed[k] for k in sorted(indexed, key=lambda k: k.zfill(4))]
    if len(items) > MAX_FIELDS:
        raise Invalid(f"at most {MAX_FIELDS} profile fields")
    out = []
    for item in items:
        if not isinstance(item, dict):
            raise Invalid("fields_attributes must name and value each field")
        name, value = item.get("name", ""), item.get("value", "")
        if not isinstance(name, str) or not isinstance(value, str):
            raise Invalid("fields_attributes must name and value each field")
        out.append((name, value))
    return tuple(out)


async def _image(kind: str) -> bytes | None:
    """The bytes of a new avatar or header from the request's files, or None when not sent."""
    upload = (await request.files).get(kind)
    if upload is None:
        return None
    return bytes(upload.read(profile_edit.MAX_IMAGE_BYTES + 1))


async def _update(state: State, account: Account) -> Response:
    me = account.actor
    p = await params.read()
    # Texts far over the limits are not even read; the limits themselves are checked below.
    change = ProfileChange(
        display_name=params.text(p, "display_name", limit=profile_edit.MAX_DISPLAY_NAME * 4),
        bio=params.text(p, "note", limit=profile_edit.MAX_BIO * 4),
        fields=_fields(p),
        locked=params.flag(p, "locked", me.manually_approves),
        bot=params.flag(p, "bot", me.is_bot),
        discoverable=params.flag(p, "discoverable", me.discoverable),
        indexable=params.flag(p, "indexable", me.indexable),
        avatar=await _image("avatar"),
        header=await _image("header"),
    )
    try:
        fresh = await profile_edit.apply(state, account, change)
    except ProfileInvalid as exc:
        raise Invalid(exc.message) from None
    return json_response(await Builder(state, fresh.actor).credential_account(fresh.actor))


async def _requester(state: State, raw_id: str) -> Any:
    actor_id = params.object_id(raw_id)
    found = await actors.by_id(state.db, actor_id) if actor_id is not None else None
    if found is None:
        raise RecordNotFound()
    return found


def register(bp: Blueprint, holder: StateHolder) -> None:
    @bp.patch("/api/v1/accounts/update_credentials")
    async def update_credentials() -> Response:
        state = holder.state
        account, _ = await user(state, "write:accounts", "profile")
        return await _update(state, account)

    @bp.get("/api/v1/follow_requests")
    async def follow_requests() -> Response:
        state = holder.state
        account, _ = await user(state, "read:follows", "follow")
        pg = params.page(default=40, cap=80)
        rows = await client_api.follow_list(
            state.db, account.actor.id, pg.window(), followers=True, state="pending"
        )
        docs = await Builder(state, account.actor).accounts([a for _, a in rows])
        return params.paged(state, docs, pg.limit, [str(i) for i, _ in rows])

    @bp.post("/api/v1/follow_requests/<raw_id>/<answer>")
    async def answer_follow_request(raw_id: str, answer: str) -> Response:
        state = holder.state
        if answer not in ("authorize", "reject"):
            raise RecordNotFound()
        account, _ = await user(state, "write:follows", "follow")
        requester = await _requester(state, raw_id)
        pending = await follows.get(state.db, requester.id, account.actor.id)
        if pending is None or pending.state != "pending":
            raise RecordNotFound()
        try:
            await interactions.answer_follow_request(
                state, account, requester, approve=answer == "authorize"
            )
        except NotFound:
            raise RecordNotFound() from None
        (relation,) = await Builder(state, account.actor).relationships([requester])
        return json_response(relation)
