"""Answering a request for a file of the media store: ours (``/media``), the remote media
cache (``/cache``) and local emoji (``/media/emoji``) share the headers and the Range rules.

With ``media_store.public_base_url`` the answer is a redirect: the bucket (or the CDN in
front of it) sends the bytes, and the URLs in our posts stay ours, so that moving to another
store, or back, breaks no post that other servers keep.
"""

from __future__ import annotations

import asyncio

from quart import Response, request

from ..errors import NotFound
from ..state import State

IMMUTABLE = "public, max-age=31536000, immutable"
# Browsers may keep a redirect for a day: the bucket's URL of a key never changes.
REDIRECT_CACHE = "public, max-age=86400"


async def serve(
    state: State,
    key: str,
    *,
    media_type: str,
    cache_control: str = IMMUTABLE,
    ranges: bool = False,
    cors: bool = False,
) -> Response:
    """The file at ``key`` as ``media_type``; 404 when the store has none, 503 when the
    store cannot be reached (never a 500)."""
    public = state.media.public_url(key)
    if public is not None:
        resp = Response("", status=302, headers={"Location": public})
        resp.headers["Cache-Control"] = REDIRECT_CACHE
        return resp
    status, headers = 200, {"Accept-Ranges": "bytes"} if ranges else {}
    wanted = request.range if ranges else None
    if wanted is None:
        data = await _read(state, key)
    else:
        # Video and sound players seek with Range requests (one range is all they ask):
        # only the asked bytes come from the store.
        size = await asyncio.to_thread(state.media.size, key)
        if size is None:
            raise NotFound("no such file")
        bounds = wanted.range_for_length(size)
        if bounds is None:
            return Response("", status=416, headers={"Content-Range": f"bytes */{size}"})
        start, stop = bounds
        data = await _read(state, key, (start, stop))
        headers["Content-Range"] = f"bytes {start}-{stop - 1}/{size}"
        status = 206
    # The type we decided, never the sender's, and never an ActivityPub one
    # (GHSA-jhrq-qvrm-qr36).
    resp = Response(data, status=status, mimetype=media_type, headers=headers)
    resp.headers["X-Content-Type-Options"] = "nosniff"
    resp.headers["Cache-Control"] = cache_control
    resp.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    if cors:
        resp.headers["Access-Control-Allow-Origin"] = "*"
    return resp


async def _read(state: State, key: str, bounds: tuple[int, int] | None = None) -> bytes:
    # Read whole (media are capped at a few MB, video at 40): a streamed file whose client
    # went away left its handle open until garbage collection.
    # A store that cannot be reached raises MediaStoreError: a 503, its details logged.
    if bounds is None:
        data = await asyncio.to_thread(state.media.get, key)
    else:
        data = await asyncio.to_thread(state.media.get_range, key, *bounds)
    if data is None:
        raise NotFound("no such file")
    return data
