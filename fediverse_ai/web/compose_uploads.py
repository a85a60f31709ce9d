"""The images of the compose form, kept across a refusal.

A browser cannot fill a file input again after a round trip, so each image is stored as an
unattached upload (``uploads.store``) as soon as it arrives, and the form shows it again with
its id in a hidden field: a post refused for a missing description, a text too long or a
failed AI picture keeps its images, and the person only types what was missing, next to the
field that says so. Uploads no post used expire after a day, as the client API's do.
"""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

from quart.datastructures import FileStorage

from .. import uploads
from ..errors import BadRequest, FediverseError
from ..media import process_image
from ..models import Account, Media, NewAttachment
from ..state import State
from ..storage import api_media

MAX_IMAGES = 4
MAX_IMAGE_BYTES = 10 * 1024 * 1024


def kept_ids(raw: Any) -> list[int | None]:
    """The ``kept0``..``kept3`` fields: ids of uploads shown again, less those to drop."""
    out: list[int | None] = []
    for i in range(MAX_IMAGES):
        value = str(raw.get(f"kept{i}", ""))
        keep = value.isascii() and value.isdigit() and len(value) < 19 and not raw.get(f"drop{i}")
        out.append(int(value) if keep else None)
    return out


async def read_images(
    state: State,
    account: Account,
    files: Any,
    kept: list[int | None],
    alts: list[str],
    *,
    check_alt: bool,
) -> tuple[list[Media | None], dict[str, str]]:
    """Per slot, the image now in it (new, else kept) and the problems, keyed by field name."""
    images: list[Media | None] = []
    errors: dict[str, str] = {}
    for i in range(MAX_IMAGES):
        image = await _kept(state, account, kept[i])
        try:
            image = await _new(state, account, files.get(f"image{i}"), alts[i], i) or image
        except FediverseError as exc:
            errors[f"image{i}"] = exc.message
        if check_alt and image is not None and state.config.web.require_alt_text and not alts[i]:
            errors[f"alt{i}"] = (
                f"image {i + 1} needs a description (alt text) for people who cannot see it"
            )
        images.append(image)
    return images, errors


async def as_attachments(
    state: State, images: list[Media | None], alts: list[str]
) -> list[NewAttachment]:
    """The kept images as the new post's attachments, with the descriptions typed last."""
    out = []
    for image, alt in zip(images, alts, strict=True):
        if image is None:
            continue
        await api_media.update(state.db, image.id, description=alt, focus=None)
        out.append(dataclasses.replace(uploads.as_attachment(image), description=alt))
    return out


async def _kept(state: State, account: Account, media_id: int | None) -> Media | None:
    """An upload named by the form, when it is the viewer's own and still waits for a post."""
    found = await api_media.get(state.db, media_id) if media_id is not None else None
    if found is None or found.actor_id != account.actor.id or found.attached:
        return None
    return found.media


async def _new(
    state: State, account: Account, upload: FileStorage | None, alt: str, i: int
) -> Media | None:
    if upload is None or not upload.filename:
        return None
    data = upload.read(MAX_IMAGE_BYTES + 1)
    if not data:
        return None
    if len(data) > MAX_IMAGE_BYTES:
        raise BadRequest(f"image {i + 1} is larger than {MAX_IMAGE_BYTES // 2**20} MB")
    try:
        processed = await asyncio.to_thread(process_image, data)
    except FediverseError as exc:
        raise BadRequest(f"image {i + 1}: {exc.message}") from None
    if await api_media.pending_count(state.db, account.actor.id) >= uploads.MAX_PENDING:
        raise BadRequest(f"image {i + 1}: too many images wait to be posted; try tomorrow")
    media_id = await uploads.store(state, account.actor.id, processed, description=alt)
    found = await api_media.get(state.db, media_id)
    return found.media if found else None
