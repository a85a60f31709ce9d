"""The remote media cache: other servers' pictures, video and sound, kept and served by us.

Pages never hotlink a remote server (issue 13): a visitor's browser would tell that server who
reads what, and a server that changes a file after the fact would change our pages. So each
remote attachment, avatar, header and custom emoji is fetched once, by a durable job,
through the SSRF guard with a byte cap; a picture is decoded only by Pillow under the pixel
caps and re-encoded (no EXIF, no trailing bytes) with a thumbnail (an emoji: a small still
PNG, ``emoji_image``); video and sound are kept as sent, but only when
their first bytes are a container we serve (MP4, WebM, Ogg, MP3, FLAC, WAV), and always with
that type, ``nosniff`` and a sandbox. ``prune`` deletes what was fetched longer ago than
``retention.remote_media_days``; a page then shows the blurhash instead.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from typing import Any

from . import emoji_image
from .errors import FetchError, PayloadTooLarge, UnsafeURL, UnsupportedMedia
from .fetcher import FetchLimits, fetch_bytes
from .media import make_thumbnail, process_image
from .netguard import CANNOT_RESOLVE
from .state import State
from .storage import machine_alt, remote_files

log = logging.getLogger(__name__)

CACHE_DIR = "cache"
ATTEMPTS = 5
# Mastodon's limits for remote media: 16 MB images, 99 MB video (we keep 40 MB), 8 MB avatars.
MAX_BYTES = {
    "attachment": 40 * 1024 * 1024,
    "avatar": 8 * 1024 * 1024,
    "header": 8 * 1024 * 1024,
    "emoji": emoji_image.MAX_BYTES,
}
MAX_IMAGE_BYTES = 16 * 1024 * 1024
THUMB_SIDE = {"attachment": 640, "avatar": 400, "header": 1500}
ACCEPT = "image/*, video/*, audio/*;q=0.9, */*;q=0.1"
_LIMITS = FetchLimits(max_redirects=3, total_timeout=60.0)


def cache_key(name: str) -> str:
    """The media store's key of a cached file (``media_dir/cache/<name>`` on disk)."""
    return f"{CACHE_DIR}/{name}"


async def fetch(state: State, payload: dict[str, Any]) -> None:
    """Worker entry: fetch one wanted URL and keep it, or record why not."""
    url = str(payload["url"])
    row = await remote_files.get(state.db, url)
    # A refresh (an emoji its server says it changed) fetches a file we have again.
    refresh = payload.get("refresh") is True
    if row is None or (row.state == "done" and not refresh):
        return
    attempt = int(payload.get("_attempt", 1))
    try:
        fetched = await fetch_bytes(
            state.http,
            url,
            guard=state.guard,
            accept=ACCEPT,
            limits=_LIMITS,
            max_bytes=MAX_BYTES.get(row.kind, MAX_IMAGE_BYTES),
        )
        await _keep(state, url, row.kind, fetched.body, fetched.content_type)
    except (PayloadTooLarge, UnsupportedMedia) as exc:
        await _give_up(state, row, exc.message)
    except FetchError as exc:
        if _permanent(exc) or attempt >= ATTEMPTS:
            await _give_up(state, row, exc.message)
        else:
            raise
    else:
        if row.kind == "attachment":  # a picture without alt text, for those who asked
            state.work_queued(await machine_alt.queue_for_url(state.db, url, now=state.now()))
        if row.state == "done":  # the copy it replaces
            kept = await remote_files.get(state.db, url)
            new = {kept.file_name, kept.thumb_name} if kept else set()
            old = [n for n in (row.file_name, row.thumb_name) if n and n not in new]
            await asyncio.to_thread(_unlink, state, old)


def _permanent(exc: FetchError) -> bool:
    if isinstance(exc, UnsafeURL):
        return exc.message != CANNOT_RESOLVE
    status = exc.http_status
    return status is not None and 400 <= status < 500 and status not in (408, 429)


async def _give_up(state: State, row: remote_files.RemoteFile, reason: str) -> None:
    if row.state == "done":  # a refresh that failed: the copy we have stays
        log.info("remote media %s not refreshed: %s", row.url, reason)
        return
    log.info("remote media %s not cached: %s", row.url, reason)
    await remote_files.mark_failed(state.db, row.url, error=reason, now=state.now())


async def _keep(state: State, url: str, kind: str, data: bytes, declared: str) -> None:
    sniffed = sniff_audio_video(data) if kind == "attachment" else None
    if sniffed is not None:
        media_type, extension = sniffed
        if media_type == "audio/ogg" and declared.lower().startswith("video/ogg"):
            media_type = "video/ogg"
        name = f"{_file_key(url, data)}.{extension}"
        await asyncio.to_thread(_write, state, {name: data})
        await remote_files.mark_done(
            state.db, url, file_name=name, thumb_name=None, media_type=media_type,
            width=None, height=None, size=len(data), now=state.now(),
        )  # fmt: skip
        return
    if len(data) > MAX_IMAGE_BYTES:
        raise PayloadTooLarge("remote image over 16 MB")
    if kind == "emoji":  # a small still PNG, its own thumbnail
        image = await asyncio.to_thread(emoji_image.process_emoji, data)
        thumb = image
    else:
        image = await asyncio.to_thread(process_image, data)
        thumb = await asyncio.to_thread(make_thumbnail, image, THUMB_SIDE.get(kind, 640))
    key = _file_key(url, image.data)
    name = f"{key}.{image.extension}"
    files = {name: image.data}
    thumb_name = None
    if thumb is not image:
        thumb_name = f"{key}_t.{thumb.extension}"
        files[thumb_name] = thumb.data
    await asyncio.to_thread(_write, state, files)
    await remote_files.mark_done(
        state.db, url, file_name=name, thumb_name=thumb_name, media_type=image.media_type,
        width=image.width, height=image.height, size=len(image.data), now=state.now(),
    )  # fmt: skip


def _file_key(url: str, data: bytes) -> str:
    """The file's name: of its bytes *and* its URL. The same file at two URLs (one picture
    sent by two servers) gets two names, since each row owns its file (``file_name`` is
    unique, and a prune of one row must not delete the other's file)."""
    return hashlib.sha256(url.encode() + b"\0" + data).hexdigest()[:32]


def _write(state: State, files: dict[str, bytes]) -> None:
    for name, data in files.items():
        state.media.put(cache_key(name), data)  # whole or not at all, on either store


def sniff_audio_video(data: bytes) -> tuple[str, str] | None:
    """``(media type, extension)`` of the audio or video container ``data`` starts with."""
    head = data[:16]
    if head[4:8] == b"ftyp":
        audio = head[8:12] in (b"M4A ", b"M4B ", b"M4P ")
        return ("audio/mp4", "m4a") if audio else ("video/mp4", "mp4")
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "video/webm", "webm"
    if head.startswith(b"OggS"):
        return "audio/ogg", "ogg"
    if head.startswith(b"fLaC"):
        return "audio/flac", "flac"
    if head.startswith(b"RIFF") and head[8:12] == b"WAVE":
        return "audio/wav", "wav"
    if head.startswith(b"ID3") or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0):
        return "audio/mpeg", "mp3"
    return None


async def prune(state: State, *, days: int, dry_run: bool = False) -> tuple[int, int]:
    """Delete what was fetched more than ``days`` ago: ``(files, bytes)`` removed. A failed
    fetch is forgotten too, so that the URL is tried again the next time it is wanted."""
    cutoff = state.now() - days * 86400
    files = size = 0
    batch = 1_000_000_000 if dry_run else 500
    while rows := await remote_files.older_than(state.db, cutoff, limit=batch):
        names = [n for r in rows for n in (r.file_name, r.thumb_name) if n]
        size += sum(r.size or 0 for r in rows)
        files += sum(1 for r in rows if r.file_name)
        if dry_run:
            break
        await asyncio.to_thread(_unlink, state, names)
        await remote_files.forget(state.db, [r.url for r in rows])
    return files, size


def _unlink(state: State, names: list[str]) -> None:
    state.media.delete([cache_key(n) for n in names])
