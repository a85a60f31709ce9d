"""Where a page gets its pictures, video and sound: never from another server.

A visitor's browser that loaded a remote file would tell that server who reads what (and a
server could change the file after the fact), so every remote attachment, avatar and header
is shown from the media cache (``/cache/<name>``): the thumbnail in feeds, the full file on a
post's own page. What is not cached yet (or was refused, or pruned) shows a local placeholder,
the blurhash when the sender gave one, and a *link* to the original. Local files are ours.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal
from urllib.parse import quote

from ..blurhash_png import is_valid
from ..models import Actor, Media
from ..state import State
from ..storage import remote_files
from ..storage.remote_files import RemoteFile

__all__ = [
    "AVATAR_PLACEHOLDER",
    "MACHINE_ALT_PREFIX",
    "MEDIA_PLACEHOLDER",
    "CachedFiles",
    "MediaView",
    "cached_files",
    "local_or_cached",
    "media_kind",
    "media_view",
    "placeholder_url",
    "safe_url",
]

MediaKind = Literal["image", "video", "audio", "other"]
CachedFiles = Mapping[str, RemoteFile]
MEDIA_PLACEHOLDER = "/static/media-placeholder.svg"
AVATAR_PLACEHOLDER = "/static/avatar-placeholder.svg"
# Machine-written alt text (bot.alt_text) is never the author's: it says so where it is read,
# in the ``alt`` attribute a screen reader speaks as much as in the caption.
MACHINE_ALT_PREFIX = "Automatic description: "


def safe_url(url: str | None) -> str | None:
    """Remote URLs end up in href attributes: only http(s) and our own paths pass."""
    if not url:
        return None
    lowered = url.strip().lower()
    if lowered.startswith(("https://", "http://")) or (
        url.startswith("/") and not url.startswith("//")
    ):
        return url.strip()
    return None


def placeholder_url(blurhash: str | None) -> str | None:
    """Where the placeholder of a blurhash is served, or None for a missing or invalid one.

    The blurhash alphabet has ``#``, ``?`` and ``%``, which a browser reads as the start of a
    fragment, a query or an escape: everything outside the unreserved set is escaped (the
    server unescapes the path once, so a hash that looks escaped, ``%2F``, stays as it is)."""
    if not blurhash or not is_valid(blurhash):
        return None
    return f"/blurhash/{quote(blurhash, safe='')}.png"


async def cached_files(state: State, urls: Iterable[str | None]) -> dict[str, RemoteFile]:
    """The cached copies of a screenful of remote URLs, in one query."""
    return await remote_files.cached(state.db, (u for u in urls if u))


def remote_urls(actors: Iterable[Actor], media: Iterable[Media] = ()) -> list[str]:
    """The remote URLs a page of these actors and attachments may show."""
    urls = [u for a in actors if not a.local for u in (a.icon_url, a.image_url) if u]
    return urls + [m.url for m in media if not m.local]


def _cache_path(row: RemoteFile, *, thumb: bool) -> str | None:
    name = (row.thumb_name or row.file_name) if thumb else row.file_name
    return f"/cache/{name}" if name else None


def local_or_cached(
    url: str | None, *, local: bool, files: CachedFiles, thumb: bool = True
) -> str | None:
    """A URL of ours for an actor's image: the local file, or the cached copy, or None."""
    if not url:
        return None
    if local:
        return safe_url(url)
    row = files.get(url)
    return _cache_path(row, thumb=thumb) if row else None


def media_kind(media_type: str) -> MediaKind:
    major = media_type.split("/", 1)[0].lower()
    if major in ("image", "video", "audio"):
        return major  # type: ignore[return-value]
    return "other"


@dataclass(frozen=True)
class MediaView:
    media: Media
    kind: MediaKind
    src: str | None  # the full file on our host; None while a remote file is not cached
    thumb: str | None  # the smaller picture for feeds (src when there is none)
    media_type: str  # what we serve it as (sniffed for cached files)
    alt: str
    width: int | None
    height: int | None
    placeholder: str | None  # the blurhash picture, when there is a valid one
    cover: str  # what stands in for the file: the blurhash, else a neutral picture
    original: str | None  # the file on its own server, for a link (never embedded)
    name: str  # a document's link text
    sensitive: bool
    ai_generated: bool
    machine_alt: str = ""  # the labelled automatic description, for a viewer who asked


def media_view(
    m: Media, files: CachedFiles, *, note_sensitive: bool = False, machine_alt: str = ""
) -> MediaView | None:
    """How one attachment is shown; None for a URL that cannot be linked safely.

    ``machine_alt`` is the automatic description of a picture without alt text, given only
    for a viewer who asked for them; a sensitive picture shows none (it is not described)."""
    original = safe_url(m.url)
    if original is None:
        return None
    media_type, src, thumb = m.media_type, None, None
    if m.local:
        src = thumb = original
        original = None
    elif (row := files.get(m.url)) is not None:
        src, thumb = _cache_path(row, thumb=False), _cache_path(row, thumb=True)
        media_type = row.media_type or media_type
    placeholder = placeholder_url(m.blurhash)
    file_name = m.url.rsplit("/", 1)[-1].split("?", 1)[0][:80]
    return MediaView(
        media=m,
        kind=media_kind(media_type),
        src=src,
        thumb=thumb,
        media_type=media_type,
        alt=m.description,
        width=m.width,
        height=m.height,
        placeholder=placeholder,
        cover=placeholder or MEDIA_PLACEHOLDER,
        original=original,
        name=m.description or file_name or "attachment",
        sensitive=note_sensitive or m.sensitive,
        ai_generated=m.ai_generated,
        machine_alt=(
            MACHINE_ALT_PREFIX + machine_alt
            if machine_alt and not (m.description or note_sensitive or m.sensitive)
            else ""
        ),
    )
