"""Custom emoji in AS2: ``Emoji`` tags in, and the tags and objects we send. Pure.

Mastodon's shape, which Pleroma, Misskey, GoToSocial and Fedify send too::

    {"type": "Emoji", "id": "https://host/emojis/1", "name": ":blobcat:",
     "updated": "2024-01-01T00:00:00Z",
     "icon": {"type": "Image", "mediaType": "image/png", "url": "https://host/blobcat.png"}}

A tag is what an object *declares*: only the shortcodes its own tags name are ever drawn as
pictures in it, so a post cannot borrow another server's (or our) emoji by writing ``:x:``.
A shortcode is ``[A-Za-z0-9_]`` (it ends up in ``alt`` and ``title`` attributes and in a
regular expression, so nothing else passes), and an object declares at most
:data:`MAX_EMOJI` of them: past that, a tag list is someone filling our cache.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from .as2_media import first_url
from .vocab import format_time, parse_time, str_or_none, type_of

__all__ = [
    "EMOJI_MEDIA_TYPES",
    "MAX_EMOJI",
    "SHORTCODE_RE",
    "EmojiRef",
    "emoji_object",
    "emoji_of",
    "emojis_of",
    "shortcodes_in",
    "stored_tag",
    "without_emoji",
]

SHORTCODE_RE = re.compile(r"[A-Za-z0-9_]{1,64}")
MAX_EMOJI = 50
#: Mastodon's list (``CustomEmoji::IMAGE_MIME_TYPES``): no SVG, which is a document, not a
#: picture, and no JPEG, which has no transparency.
EMOJI_MEDIA_TYPES = frozenset({"image/png", "image/gif", "image/webp"})
#: ``:code:`` standing alone, as Mastodon's ``CustomEmoji::SCAN_RE`` finds it: not glued to a
#: letter, a digit or another colon on either side (``10:30:00`` holds no emoji).
_YEAR_10000 = 253402300800.0
SCAN_RE = re.compile(r"(?<![^\W_])(?<!:):([A-Za-z0-9_]{1,64}):(?![^\W_])(?!:)")


@dataclass(frozen=True)
class EmojiRef:
    """One declared emoji: its shortcode (no colons) and where its picture is."""

    shortcode: str
    url: str
    media_type: str | None = None
    id: str | None = None
    updated: float | None = None


def emoji_of(tag: Any) -> EmojiRef | None:
    """An ``Emoji`` tag, or None for another tag or one we would not draw."""
    if not isinstance(tag, dict) or type_of(tag) != "Emoji":
        return None
    name = str_or_none(tag.get("name"))
    if name is None:
        return None
    shortcode = name.strip().removeprefix(":").removesuffix(":")
    if not SHORTCODE_RE.fullmatch(shortcode):
        return None
    icon = tag.get("icon")
    if isinstance(icon, list):
        icon = next((i for i in icon if isinstance(i, dict)), None)
    url = first_url(icon) if isinstance(icon, dict | str) else None
    if not url or not url.startswith(("https://", "http://")) or len(url) > 2048:
        return None
    declared = str_or_none(icon.get("mediaType")) if isinstance(icon, dict) else None
    media_type = declared.strip().lower() if declared else None
    if media_type is not None and media_type not in EMOJI_MEDIA_TYPES:
        return None  # an SVG (or anything else) is refused before it is fetched
    emoji_id = str_or_none(tag.get("id"))
    updated = parse_time(tag.get("updated"))  # written out again when stored: keep it writable
    return EmojiRef(
        shortcode=shortcode,
        url=url,
        media_type=media_type,
        id=emoji_id if emoji_id and len(emoji_id) <= 2048 else None,
        updated=updated if updated is not None and 0 <= updated < _YEAR_10000 else None,
    )


def emojis_of(tags: Iterable[Any]) -> tuple[EmojiRef, ...]:
    """The usable ``Emoji`` tags of an object, each shortcode once (the first wins)."""
    found: dict[str, EmojiRef] = {}
    for tag in tags:
        ref = emoji_of(tag)
        if ref is not None and ref.shortcode not in found:
            found[ref.shortcode] = ref
            if len(found) >= MAX_EMOJI:
                break
    return tuple(found.values())


def stored_tag(ref: EmojiRef) -> dict[str, Any]:
    """The tag as we keep it with a note: only what :func:`emoji_of` checked."""
    icon: dict[str, Any] = {"type": "Image", "url": ref.url}
    if ref.media_type:
        icon["mediaType"] = ref.media_type
    tag: dict[str, Any] = {"type": "Emoji", "name": f":{ref.shortcode}:", "icon": icon}
    if ref.id:
        tag["id"] = ref.id
    if ref.updated is not None:
        tag["updated"] = format_time(ref.updated)
    return tag


def without_emoji(tags: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The other tags: the raw ``Emoji`` ones are replaced by their checked form."""
    return [t for t in tags if type_of(t) != "Emoji"]


def emoji_object(
    *, id: str, shortcode: str, url: str, media_type: str, updated: float
) -> dict[str, Any]:
    """A local emoji as an AS2 ``Emoji``: its tag in our posts, and its own document."""
    return {
        "id": id,
        "type": "Emoji",
        "name": f":{shortcode}:",
        "updated": format_time(updated),
        "icon": {"type": "Image", "mediaType": media_type, "url": url},
    }


def shortcodes_in(*texts: str | None) -> list[str]:
    """The ``:shortcode:`` words written in ``texts``, in order, each once."""
    seen: dict[str, None] = {}
    for text in texts:
        for match in SCAN_RE.finditer(text or ""):
            seen.setdefault(match.group(1), None)
    return list(seen)
