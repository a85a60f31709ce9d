"""Incoming attachments, and the media of objects that *are* media (PeerTube ``Video``,
Funkwhale ``Audio``), as small frozen dataclasses. Pure: no I/O, no storage.

Servers describe a file in several ways: ``mediaType`` on the attachment (Mastodon, Misskey,
Pleroma), on a ``Link`` inside its ``url`` (PeerTube, Funkwhale), or not at all (some blogs).
A missing type is inferred from the Link, then the file name, then the AS2 type, so that a
video is shown as a video and never as a broken ``<img>``.
"""

from __future__ import annotations

import mimetypes
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from .vocab import as_list, str_or_none, type_of

__all__ = ["IncomingAttachment", "attachment_of", "first_url", "media_of_object", "page_url"]

GENERIC_TYPES = frozenset({"", "application/octet-stream", "binary/octet-stream"})
#: What an AS2 type says about a file whose type nobody gave.
_KIND_OF_TYPE = {"Image": "image", "Video": "video", "Audio": "audio"}
#: Larger files are not cached (media_cache.MAX_BYTES): a smaller rendition is preferred.
_PLAYABLE_BYTES = 40 * 1024 * 1024
_PLAYABLE = ("video/mp4", "video/webm", "video/ogg", "audio/mpeg", "audio/ogg", "audio/mp4")


@dataclass(frozen=True)
class IncomingAttachment:
    url: str
    media_type: str
    description: str = ""
    blurhash: str | None = None
    width: int | None = None
    height: int | None = None
    sensitive: bool = False
    name: str = ""  # a document's file name or title, shown on its link


def first_url(value: Any) -> str | None:
    """A URL given as a string, a Link/Image object, or a list of either."""
    for item in as_list(value):
        if isinstance(item, str):
            return item
        if isinstance(item, dict):
            inner = item.get("url", item.get("href"))
            if isinstance(inner, str):
                return inner
            if isinstance(inner, dict | list):
                found = first_url(inner)
                if found:
                    return found
    return None


def _links(value: Any) -> list[dict[str, Any]]:
    return [i for i in as_list(value) if isinstance(i, dict) and isinstance(i.get("href"), str)]


def _link_type(link: dict[str, Any]) -> str:
    # PeerTube before 2.x wrote ``mimeType``.
    return (str_or_none(link.get("mediaType")) or str_or_none(link.get("mimeType")) or "").lower()


def page_url(value: Any) -> str | None:
    """The human page of an object: its ``text/html`` Link when it lists several, else the first."""
    for link in _links(value):
        if _link_type(link).startswith("text/html"):
            return str(link["href"])
    return first_url(value)


def infer_media_type(declared: str | None, url: str, as2_type: str | None) -> str:
    """The declared type unless generic; else the file name's; else what the AS2 type implies."""
    media_type = (declared or "").strip().lower()[:100]
    if media_type not in GENERIC_TYPES:
        return media_type
    guessed, _ = mimetypes.guess_type(urlsplit(url).path)
    if guessed and guessed.split("/")[0] in ("image", "video", "audio"):
        return guessed
    kind = _KIND_OF_TYPE.get(as2_type or "")
    if kind is not None:
        return f"{kind}/*"
    return guessed or "application/octet-stream"


#: Far above any real picture, far below SQLite's 64-bit INTEGER.
MAX_DIMENSION = 1_000_000


def _int(value: Any) -> int | None:
    """A pixel size a peer states, or None: JSON integers are unbounded (10**400 made the
    media insert raise OverflowError) and ``True`` is an int to Python."""
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value if 0 < value <= MAX_DIMENSION else None


def _size(link: dict[str, Any]) -> float:
    """A rendition's byte size, 0 when unknown (JSON numbers may come as floats: 9e9)."""
    value = link.get("size")
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
        return 0.0
    return max(0.0, float(value))


def attachment_of(item: Any) -> IncomingAttachment | None:
    """One ``attachment`` entry, or None for what is not a file (PropertyValue, no URL)."""
    if not isinstance(item, dict) or item.get("type") == "PropertyValue":
        return None
    url = first_url(item.get("url")) or (
        item["href"] if isinstance(item.get("href"), str) else None
    )
    if not url:
        return None
    declared = str_or_none(item.get("mediaType"))
    links = _links(item.get("url"))
    if links and (not declared or declared.lower() in GENERIC_TYPES):
        declared = _link_type(links[0]) or declared
    description = str_or_none(item.get("summary")) or str_or_none(item.get("name")) or ""
    return IncomingAttachment(
        url=url,
        media_type=infer_media_type(declared, url, type_of(item)),
        description=description[:5000],
        blurhash=str_or_none(item.get("blurhash")),
        width=_int(item.get("width")),
        height=_int(item.get("height")),
        sensitive=item.get("sensitive") is True,
        name=(str_or_none(item.get("name")) or "")[:500],
    )


def media_of_object(obj: dict[str, Any], as2_type: str) -> IncomingAttachment | None:
    """The playable file of a ``Video`` or ``Audio`` object, shown as its post's attachment
    (Mastodon does the same): the largest rendition we would cache, else the smallest."""
    kind = _KIND_OF_TYPE[as2_type]
    candidates = [
        link
        for link in _links(obj.get("url"))
        if _link_type(link).startswith(f"{kind}/") or _link_type(link) in _PLAYABLE
    ]
    if not candidates:
        return None
    preferred = [c for c in candidates if _link_type(c) in _PLAYABLE] or candidates
    fitting = [c for c in preferred if _size(c) <= _PLAYABLE_BYTES]
    pick = (
        max(fitting, key=lambda c: _int(c.get("height")) or 0)
        if fitting
        else min(preferred, key=_size)
    )
    name = str_or_none(obj.get("name")) or ""
    return IncomingAttachment(
        url=str(pick["href"]),
        media_type=infer_media_type(_link_type(pick), str(pick["href"]), as2_type),
        description=name[:5000],
        width=_int(pick.get("width")),
        height=_int(pick.get("height")),
        sensitive=obj.get("sensitive") is True,
        name=name[:500],
    )
