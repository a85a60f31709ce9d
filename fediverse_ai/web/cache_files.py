"""``/cache/<name>``: other servers' media as we keep them (``media_cache``), never hotlinked."""

from __future__ import annotations

import re

from quart import Quart, Response

from ..errors import NotFound
from ..media_cache import cache_key
from ..storage import remote_files
from . import stored_files
from .common import StateHolder

_NAME = re.compile(r"^[0-9a-f]{32}(_t)?\.(jpg|png|mp4|m4a|webm|ogg|flac|wav|mp3)$")
_SERVED_TYPES = ("image/", "video/", "audio/")


def register(app: Quart, holder: StateHolder) -> None:
    @app.get("/cache/<name>")
    async def cached_file(name: str) -> Response:
        state = holder.state
        if not _NAME.match(name):
            raise NotFound("no such file")
        row = await remote_files.by_file_name(state.db, name)
        if row is None or not row.media_type or not row.media_type.startswith(_SERVED_TYPES):
            raise NotFound("no such file")
        # A thumbnail keeps its picture's type: the one we decided, never the sender's.
        return await stored_files.serve(
            state,
            cache_key(name),
            media_type=row.media_type,
            cache_control="public, max-age=604800",
            ranges=True,
        )
