"""``PATCH /api/v1/accounts/update_credentials`` and the follow requests of a locked account
(``/api/v1/follow_requests``, authorize, reject: the web UI's ``answer_follow_request``).

A changed profile is stored, then sent to followers as an ``Update`` of the actor, as the
web's profile changes are (``interactions.send_actor_update``). Avatar and header go through
the media pipeline like every uploaded image (EXIF dropped, re-encoded) and are scaled to
Mastodon's sizes (400 and 1500 pixels on the long side).
"""

from __future__ import annotations

import asyncio
import html
import secrets
from typing import Any

from quart import Blueprint, Response, request

from ..accounts import bio_html
from ..errors import FediverseError, NotFound
from ..federation import interactions
from ..media import make_thumbnail, process_image
from ..models import Account
from ..state import State
from ..storage import actors, client_api, follows, media, profiles
from ..web.common import StateHolder, json_response
from ..web.compose import MAX_IMAGE_BYTES
from . import params
from .entities import Builder
from .errors import Invalid, RecordNotFound
from .tokens import user

MAX_DISPLAY_NAME = 30
MAX_NOTE = 500
MAX_FIELDS = 4
MAX_FIELD = 255
_IMAGE_SIDES = {"avatar": 400, "header": 1500}


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
        name, value = name.strip(), value.strip()
        if len(name) > MAX_FIELD or len(value) > MAX_FIELD:
            raise Invalid(f"a profile field is limited to {MAX_FIELD} characters")
        if name or value:
            out.append((html.escape(name, quote=False), html.escape(value, quote=False)))
    return tuple(out)


async def _image(state: State, account: Account, kind: str) -> str | None:
    """The URL of a new avatar or header from the request's files, or None when not sent."""
    upload = (await request.files).get(kind)
    if upload is None:
        return None
    data = upload.read(MAX_IMAGE_BYTES + 1)
    if not data or len(data) > MAX_IMAGE_BYTES:
        raise Invalid(f"{kind} must be an image of at most {MAX_IMAGE_BYTES // 2**20} MB")
    try:
        image = await asyncio.to_thread(
            lambda: make_thumbnail(process_image(data), _IMAGE_SIDES[kind])
        )
    except FediverseError as exc:
        raise Invalid(f"{kind}: {exc.message}") from None
    name = f"{secrets.token_hex(16)}.{image.extension}"
    directory = state.config.storage.media_dir
    await asyncio.to_thread(directory.mkdir, parents=True, exist_ok=True)
    await asyncio.to_thread((directory / name).write_bytes, image.data)
    url = state.urls.media(name)
    now = state.now()
    await state.db.transaction(
        lambda conn: media.insert(
            conn,
            note_id=None,
            actor_id=account.actor.id,
            local=True,
            position=0,
            url=url,
            media_type=image.media_type,
            file_name=name,
            width=image.width,
            height=image.height,
            blurhash=image.blurhash,
            description="",
            ai_generated=False,
            now=now,
        )
    )
    return url


def _bounded(p: dict[str, Any], name: str, most: int) -> str | None:
    value = params.text(p, name, limit=most * 4)
    if value is not None and len(value.strip()) > most:
        raise Invalid(f"{name} is too long (maximum is {most} characters)")
    return value.strip() if value is not None else None


async def _update(state: State, account: Account) -> Response:
    me = account.actor
    p = await params.read()
    display_name = _bounded(p, "display_name", MAX_DISPLAY_NAME)
    note = _bounded(p, "note", MAX_NOTE)
    fields = _fields(p)
    bot = params.flag(p, "bot", me.is_bot)
    profile = profiles.Profile(
        display_name=me.display_name if display_name is None else display_name,
        summary=me.summary if note is None else bio_html(note),
        manually_approves=params.flag(p, "locked", me.manually_approves),
        actor_type=("Service" if bot else "Person") if bot != me.is_bot else me.type,
        discoverable=params.flag(p, "discoverable", me.discoverable),
        indexable=params.flag(p, "indexable", me.indexable),
        fields=me.fields if fields is None else fields,
        icon_url=await _image(state, account, "avatar") or me.icon_url,
        image_url=await _image(state, account, "header") or me.image_url,
    )
    await profiles.save(state.db, me.id, profile, now=state.now())
    fresh = await actors.account_by_actor_id(state.db, me.id)
    assert fresh is not None
    await interactions.send_actor_update(state, fresh)
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
