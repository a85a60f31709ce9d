"""Custom emoji: the ones our admins upload, and where any emoji's picture is served from.

A local emoji is a PNG of ours (``emoji_image``) under ``storage.media_dir/emoji/``, served
at ``/media/emoji/<file>``; its AS2 ``Emoji`` object is at ``/emojis/<shortcode>``, and a
local post that writes ``:shortcode:`` carries that object as a tag. A remote emoji is shown
from the media cache once fetched (kind ``emoji``), never from its server: until then, and
when it was refused (SVG, too large), the text stays ``:shortcode:``.
"""

from __future__ import annotations

import asyncio
import re
import secrets
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from .as2_emoji import SHORTCODE_RE, emoji_object, emojis_of, shortcodes_in
from .emoji_image import process_emoji
from .errors import BadRequest, NotFound
from .models import Actor, Note
from .sanitize import html_to_text
from .state import State
from .storage import custom_emojis, remote_files
from .storage.custom_emojis import LocalEmoji

__all__ = [
    "EMOJI_DIR",
    "LOCAL_FILE_RE",
    "LOCAL_PATH",
    "EmojiPairs",
    "actor_pairs",
    "actor_tags",
    "add_local",
    "emoji_key",
    "file_url",
    "local_object",
    "local_pairs",
    "local_tags",
    "note_pairs",
    "object_id",
    "remove_local",
    "sources",
    "usable",
]

EMOJI_DIR = "emoji"
#: Where local emoji pictures are served (``web/objects``).
LOCAL_PATH = f"/media/{EMOJI_DIR}/"
#: The name of a local emoji's file (``add_local`` makes them).
LOCAL_FILE_RE = re.compile(r"[0-9a-f]{32}\.png")
MAX_CATEGORY = 64
#: (shortcode, picture URL) declared by one object.
EmojiPairs = Sequence[tuple[str, str]]


def emoji_key(name: str) -> str:
    """The media store's key of a local emoji's picture (``media_dir/emoji/<name>``)."""
    return f"{EMOJI_DIR}/{name}"


def file_url(state: State, emoji: LocalEmoji) -> str:
    return f"{state.config.instance.base_url}{LOCAL_PATH}{emoji.file_name}"


def object_id(state: State, shortcode: str) -> str:
    return f"{state.config.instance.base_url}/emojis/{shortcode}"


def local_object(state: State, emoji: LocalEmoji) -> dict[str, Any]:
    """The AS2 ``Emoji`` of a local emoji: its document, and its tag in our posts."""
    return emoji_object(
        id=object_id(state, emoji.shortcode),
        shortcode=emoji.shortcode,
        url=file_url(state, emoji),
        media_type=emoji.media_type,
        updated=emoji.updated_at,
    )


async def add_local(
    state: State, shortcode: str, data: bytes, *, category: str | None = None
) -> LocalEmoji:
    """Check, re-encode and keep an uploaded picture as ``:shortcode:``."""
    if not SHORTCODE_RE.fullmatch(shortcode):
        raise BadRequest("a shortcode is 1 to 64 letters, digits or underscores")
    category = " ".join((category or "").split())[:MAX_CATEGORY] or None
    if await custom_emojis.by_shortcode(state.db, shortcode) is not None:
        raise BadRequest(f"the emoji :{shortcode}: already exists")
    image = await asyncio.to_thread(process_emoji, data)
    name = f"{secrets.token_hex(16)}.{image.extension}"
    await asyncio.to_thread(state.media.put, emoji_key(name), image.data)
    added = await custom_emojis.add(
        state.db,
        shortcode=shortcode,
        file_name=name,
        media_type=image.media_type,
        width=image.width,
        height=image.height,
        size=len(image.data),
        category=category,
        now=state.now(),
    )
    if added is None:  # taken meanwhile
        await asyncio.to_thread(state.media.delete, [emoji_key(name)])
        raise BadRequest(f"the emoji :{shortcode}: already exists")
    return added


async def remove_local(state: State, shortcode: str) -> LocalEmoji:
    """Delete ``:shortcode:`` and its file; posts that used it show the text again."""
    removed = await custom_emojis.remove(state.db, shortcode)
    if removed is None:
        raise NotFound(f"no emoji :{shortcode}:")
    await asyncio.to_thread(state.media.delete, [emoji_key(removed.file_name)])
    return removed


async def local_tags(state: State, *texts: str | None) -> list[dict[str, Any]]:
    """The ``Emoji`` tags a local post (or profile) with these texts carries."""
    found = await custom_emojis.by_shortcodes(state.db, shortcodes_in(*texts))
    return [local_object(state, e) for e in found.values()]


def _profile_texts(actor: Actor) -> list[str]:
    return [actor.display_name, html_to_text(actor.summary), *(t for f in actor.fields for t in f)]


async def actor_tags(state: State, actor: Actor) -> list[dict[str, Any]]:
    """The ``Emoji`` tags of a local actor's document: those its name, bio and fields write."""
    return await local_tags(state, *_profile_texts(actor))


def note_pairs(note: Note) -> EmojiPairs:
    """The emoji a note's own tags declare (stored checked, see ``as2_in``) and its text uses
    (as Mastodon lists them; the HTML is searched as it is, which can only find more)."""
    used = set(shortcodes_in(note.content, note.summary))
    return [(e.shortcode, e.url) for e in emojis_of(note.tags) if e.shortcode in used]


async def local_pairs(state: State, actors: Iterable[Actor]) -> dict[int, EmojiPairs]:
    """What local actors' names, bios and fields show: the local emoji they write."""
    codes = {a.id: shortcodes_in(*_profile_texts(a)) for a in actors if a.local}
    found = await custom_emojis.by_shortcodes(state.db, [c for cs in codes.values() for c in cs])
    return {
        a: [(c, file_url(state, found[c])) for c in cs if c in found] for a, cs in codes.items()
    }


async def actor_pairs(state: State, actors: Iterable[Actor]) -> dict[int, EmojiPairs]:
    """The emoji of each actor's profile: declared by its document, or ours for local ones."""
    people = list(actors)
    pairs: dict[int, EmojiPairs] = {}
    for a in people:
        if not a.local:
            used = set(shortcodes_in(a.display_name, a.summary, *(t for f in a.fields for t in f)))
            pairs[a.id] = [(code, url) for code, url in a.emojis if code in used]
    return pairs | await local_pairs(state, people)


async def sources(state: State, pairs: Iterable[EmojiPairs]) -> dict[str, str]:
    """Picture URL -> the path we serve it at, for those we can show (one query).

    Our own files are shown as they are; a remote picture only once cached as an emoji (a
    file cached for another use has not been through the emoji gate)."""
    urls = {url for group in pairs for _, url in group}
    prefix = state.config.instance.base_url + LOCAL_PATH
    # Only a plain file name: a peer may name one of our URLs as its icon, and that must not
    # become an ``<img src>`` of any other path of ours (``/media/emoji/../logout``).
    out = {
        u: LOCAL_PATH + name
        for u in urls
        if u.startswith(prefix) and LOCAL_FILE_RE.fullmatch(name := u.removeprefix(prefix))
    }
    rows = await remote_files.cached(state.db, [u for u in urls if u not in out])
    return out | {
        u: f"/cache/{r.file_name}" for u, r in rows.items() if r.kind == "emoji" and r.file_name
    }


def usable(pairs: EmojiPairs, served: Mapping[str, str]) -> dict[str, str]:
    """Shortcode -> our path, for one object's emoji that can be shown now."""
    return {code: served[url] for code, url in pairs if url in served}
