"""Images uploaded before their post exists: by an app through the client API, or kept by the
web compose form when a post was refused (a missing description), so nobody picks the file
again. Those that no post used are deleted a day after they were made, as Mastodon deletes
them: the durable job queued with each upload (``storage.api_media``)."""

from __future__ import annotations

import asyncio
import logging
import secrets
from typing import Any

from .media import ProcessedImage
from .models import Media, NewAttachment
from .state import State
from .storage import api_media

log = logging.getLogger(__name__)
EXPIRE_JOB = api_media.EXPIRE_JOB
#: Uploads an account may hold unattached at once: enough for any composer, and a cap on the
#: disk a token can fill with pictures it never posts.
MAX_PENDING = 100


async def store(
    state: State,
    actor_id: int,
    image: ProcessedImage,
    *,
    description: str,
    focus: tuple[float, float] = (0.0, 0.0),
) -> int:
    """Keep a processed image under a random name and record it, unattached; its media id."""
    name = f"{secrets.token_hex(16)}.{image.extension}"
    await asyncio.to_thread(state.media.put, name, image.data)
    try:
        return await api_media.create(
            state.db,
            actor_id=actor_id,
            url=state.urls.media(name),
            file_name=name,
            media_type=image.media_type,
            width=image.width,
            height=image.height,
            blurhash=image.blurhash,
            description=description,
            focus=focus,
            now=state.now(),
        )
    except BaseException:
        await asyncio.to_thread(state.media.delete, [name])
        raise


def as_attachment(m: Media) -> NewAttachment:
    """An unattached upload on its way into a new note: publishing attaches its row."""
    return NewAttachment(
        data=b"",
        media_type=m.media_type,
        extension=(m.file_name or "").rpartition(".")[2],
        width=m.width or 0,
        height=m.height or 0,
        blurhash=m.blurhash or "",
        description=m.description,
        upload_id=m.id,
        file_name=m.file_name,
    )


async def expire(state: State, payload: dict[str, Any]) -> None:
    """Worker entry; safe to run twice: an attached or already deleted upload is left alone."""
    media_id = payload.get("media_id")
    if not isinstance(media_id, int):
        return
    file_name = await api_media.delete_unattached(state.db, media_id)
    if file_name:
        await asyncio.to_thread(state.media.delete, [file_name])
        log.info("deleted unattached upload %s", media_id)
