"""Uploads of the client API that no status used are deleted a day after they were made, as
Mastodon deletes them: the durable job queued with each upload (``storage.api_media``)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from .state import State
from .storage import api_media

log = logging.getLogger(__name__)
EXPIRE_JOB = api_media.EXPIRE_JOB


async def expire(state: State, payload: dict[str, Any]) -> None:
    """Worker entry; safe to run twice: an attached or already deleted upload is left alone."""
    media_id = payload.get("media_id")
    if not isinstance(media_id, int):
        return
    file_name = await api_media.delete_unattached(state.db, media_id)
    if file_name:
        path = state.config.storage.media_dir / file_name
        await asyncio.to_thread(path.unlink, missing_ok=True)
        log.info("deleted unattached upload %s", media_id)
