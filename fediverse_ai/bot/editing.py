"""Which picture an edit request is about, whose it is, and its pixels, ready for a backend.

"@ai make this a watercolour" edits a picture of the mention itself, else of the post it
answers (the newest image first). Only the asker's own pictures are edited: people did not
want their photos changed by strangers (the lesson of Grok's image edits on X), so a picture
posted by anyone else is refused by name of the rule, whoever asks.

The picture is read from our own media, from the remote media cache, or fetched through the
SSRF guard with the cache's byte cap; either way it goes through the media pipeline (Pillow
only, pixel caps, re-encoded, EXIF dropped) before a backend sees it, as a PNG fitted within
the configured image size.
"""

from __future__ import annotations

import asyncio
import io
from dataclasses import dataclass

from PIL import Image

from ..errors import NotFound
from ..fetcher import FetchLimits, fetch_bytes
from ..media import process_image
from ..media_cache import MAX_IMAGE_BYTES, cache_key
from ..models import Media, Note
from ..state import State
from ..storage import media, remote_files
from .context import load_note

_LIMITS = FetchLimits(max_redirects=3, total_timeout=30.0)


@dataclass(frozen=True)
class Source:
    note: Note
    media: Media


@dataclass(frozen=True)
class Sources:
    own: Source | None  # the asker's newest picture in reach, if any
    others: Source | None  # else someone else's, to name in the refusal


async def find_sources(state: State, mention: Note) -> Sources:
    """The pictures of the mention, then of the post it answers, newest first."""
    notes = [mention]
    if mention.in_reply_to_uri:
        parent = await load_note(state, mention.in_reply_to_uri)
        if parent is not None:
            notes.append(parent)
    others: Source | None = None
    for note in notes:
        images = [m for m in await media.for_note(state.db, note.id) if _is_image(m)]
        for item in reversed(images):
            if note.actor_id == mention.actor_id:
                return Sources(Source(note, item), None)
            others = others or Source(note, item)
    return Sources(None, others)


def _is_image(item: Media) -> bool:
    return item.media_type.startswith("image/") and item.media_type != "image/svg+xml"


async def load_png(state: State, item: Media, *, width: int, height: int) -> tuple[bytes, int, int]:
    """``(png, width, height)``: the picture within ``width`` x ``height``; raises
    ``FediverseError`` when it cannot be had (gone, too large, not an image, refused)."""
    raw = await raw_bytes(state, item)
    return await asyncio.to_thread(_fit_png, raw, width, height)


async def raw_bytes(state: State, item: Media) -> bytes:
    """The bytes of a picture: ours, the cache's copy, or fetched through the guard."""
    if item.local and item.file_name:
        data = await asyncio.to_thread(state.media.get, item.file_name)
        if data is None:
            raise NotFound("the picture is gone")
        return data
    cached = await remote_files.get(state.db, item.url)
    if cached is not None and cached.state == "done" and cached.file_name:
        kept = await asyncio.to_thread(state.media.get, cache_key(cached.file_name))
        if kept is not None:
            return kept
    fetched = await fetch_bytes(
        state.http,
        item.url,
        guard=state.guard,
        accept="image/*",
        limits=_LIMITS,
        max_bytes=MAX_IMAGE_BYTES,
    )
    return fetched.body


def _fit_png(raw: bytes, width: int, height: int) -> tuple[bytes, int, int]:
    clean = process_image(raw)  # the pipeline's caps and re-encoding, before anything else
    with Image.open(io.BytesIO(clean.data)) as opened:
        image = opened.convert("RGB")
    image.thumbnail((width, height), Image.Resampling.LANCZOS)
    # Stable diffusion works on latents of 8 x 8 pixels: sides in multiples of 8.
    w, h = (max(64, side // 8 * 8) for side in image.size)
    if (w, h) != image.size:
        image = image.resize((w, h), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue(), w, h
