"""Media uploads: ``POST /api/v2/media`` (and v1), ``GET``/``PUT /api/v1/media/:id``, and the
``media_ids`` of a new status.

Uploads go through the web compose's pipeline (``media.process_image``: format sniffed,
pixel caps before decoding, re-encoded from bare pixels so no EXIF survives), so an app's
picture is exactly as clean as a browser's. Images are processed during the request, so the
answer is always ``200`` with the finished attachment; Mastodon answers ``202`` only while a
video is still transcoding, and apps handle both.

Alt text is not required here although the web compose may require it: Mastodon does not,
and apps that post the picture before asking for a description would break.
"""

from __future__ import annotations

import asyncio
import math
from typing import Any

from quart import Blueprint, Response, request

from .. import uploads
from ..errors import FediverseError
from ..media import process_image
from ..models import Account, NewAttachment
from ..state import State
from ..storage import api_media
from ..web.common import StateHolder, json_response
from ..web.compose import MAX_IMAGE_BYTES
from . import params
from .entities import Builder
from .errors import Invalid, RecordNotFound
from .tokens import user

MAX_DESCRIPTION = 1500  # Mastodon's limit for alt text
MAX_PENDING = uploads.MAX_PENDING
MAX_MEDIA_IDS = 4


def parse_focus(raw: str | None) -> tuple[float, float] | None:
    """Mastodon's ``focus=x,y``, each from -1.0 to 1.0 (centre 0,0)."""
    if raw is None or not raw.strip():
        return None
    parts = raw.split(",")
    try:
        x, y = (float(v) for v in parts) if len(parts) == 2 else (math.nan, math.nan)
    except ValueError:
        x = y = math.nan
    if not (-1.0 <= x <= 1.0 and -1.0 <= y <= 1.0):  # NaN fails both comparisons
        raise Invalid("focus must be two numbers from -1.0 to 1.0, as x,y")
    return (x, y)


def parse_description(p: dict[str, Any]) -> str | None:
    """The ``description`` (alt text) of ``p``, stripped, at most Mastodon's 1,500 characters."""
    value = params.text(p, "description", limit=MAX_DESCRIPTION * 4)
    if value is None:
        return None
    value = value.strip()
    if len(value) > MAX_DESCRIPTION:
        raise Invalid(f"Description is too long (maximum is {MAX_DESCRIPTION} characters)")
    return value


async def _upload(state: State, account: Account) -> Response:
    p = await params.read()
    files = await request.files
    upload = files.get("file")
    if upload is None:
        raise Invalid("File can't be blank")
    data = upload.read(MAX_IMAGE_BYTES + 1)
    if not data:
        raise Invalid("File can't be blank")
    if len(data) > MAX_IMAGE_BYTES:
        raise Invalid(f"File file size must be less than {MAX_IMAGE_BYTES // 2**20} MB")
    description = parse_description(p) or ""
    focus = parse_focus(params.text(p, "focus", limit=100)) or (0.0, 0.0)
    if await api_media.pending_count(state.db, account.actor.id) >= MAX_PENDING:
        raise Invalid(f"at most {MAX_PENDING} uploads may wait to be posted")
    try:
        image = await asyncio.to_thread(process_image, data)
    except FediverseError as exc:
        raise Invalid(f"File {exc.message}") from None
    media_id = await uploads.store(
        state, account.actor.id, image, description=description, focus=focus
    )
    return await _show(state, account, media_id)


async def _own_unattached(state: State, account: Account, raw_id: str) -> api_media.Upload:
    """An upload of the caller's not yet in a status (Mastodon: 404 for anything else)."""
    media_id = params.object_id(raw_id)
    found = await api_media.get(state.db, media_id) if media_id is not None else None
    if found is None or found.actor_id != account.actor.id or found.attached:
        raise RecordNotFound()
    return found


async def _show(state: State, account: Account, media_id: int) -> Response:
    found = await api_media.get(state.db, media_id)
    if found is None:
        raise RecordNotFound()
    return json_response(Builder(state, account.actor).attachment(found.media, {}, found.focus))


async def attachments_for_status(
    state: State, account: Account, raw_ids: list[str]
) -> tuple[NewAttachment, ...]:
    """The ``media_ids`` of a new status as attachments to publish: at most four, each an
    unattached upload of the author's (422 otherwise, as Mastodon answers)."""
    if len(raw_ids) > MAX_MEDIA_IDS:
        raise Invalid(f"Media attachments are limited to {MAX_MEDIA_IDS}")
    if len(set(raw_ids)) != len(raw_ids):
        raise Invalid("the same media attachment is named twice")
    out = []
    for raw in raw_ids:
        try:
            found = await _own_unattached(state, account, raw)
        except RecordNotFound:
            raise Invalid(f"media {raw[:40]} is not an unattached upload of yours") from None
        out.append(uploads.as_attachment(found.media))
    return tuple(out)


def register(bp: Blueprint, holder: StateHolder) -> None:
    @bp.post("/api/v1/media")
    @bp.post("/api/v2/media")
    async def upload_media() -> Response:
        state = holder.state
        account, _ = await user(state, "write:media")
        return await _upload(state, account)

    @bp.get("/api/v1/media/<media_id>")
    async def show_media(media_id: str) -> Response:
        state = holder.state
        account, _ = await user(state, "write:media")
        found = await _own_unattached(state, account, media_id)
        return await _show(state, account, found.media.id)

    @bp.put("/api/v1/media/<media_id>")
    async def update_media(media_id: str) -> Response:
        state = holder.state
        account, _ = await user(state, "write:media")
        found = await _own_unattached(state, account, media_id)
        p = await params.read()
        description = parse_description(p)
        focus = parse_focus(params.text(p, "focus", limit=100))
        if not await api_media.update(
            state.db, found.media.id, description=description, focus=focus
        ):
            raise RecordNotFound()  # attached by a status meanwhile
        return await _show(state, account, found.media.id)
