"""``/cache/<name>``: other servers' media as we keep them (``media_cache``), never hotlinked."""

from __future__ import annotations

import asyncio
import re

from quart import Quart, Response, request

from ..errors import NotFound
from ..media_cache import cache_dir
from ..storage import remote_files
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
        path = cache_dir(state) / name
        if row is None or not row.media_type or not path.is_file():
            raise NotFound("no such file")
        if not row.media_type.startswith(_SERVED_TYPES):
            raise NotFound("no such file")
        data = await asyncio.to_thread(path.read_bytes)
        status, headers = 200, {"Accept-Ranges": "bytes"}
        # Video and sound players seek with Range requests (one range is all they ask).
        wanted = request.range
        bounds = wanted.range_for_length(len(data)) if wanted is not None else None
        if wanted is not None and bounds is None:
            return Response("", status=416, headers={"Content-Range": f"bytes */{len(data)}"})
        if bounds is not None:
            start, stop = bounds
            headers["Content-Range"] = f"bytes {start}-{stop - 1}/{len(data)}"
            status, data = 206, data[start:stop]
        # The type we decided (a thumbnail keeps its picture's), never the sender's, and
        # never an ActivityPub one.
        resp = Response(data, status=status, mimetype=row.media_type, headers=headers)
        resp.headers["X-Content-Type-Options"] = "nosniff"
        resp.headers["Cache-Control"] = "public, max-age=604800"
        resp.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
        return resp
