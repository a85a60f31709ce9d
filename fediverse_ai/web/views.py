"""View models for the templates: notes become cards in a handful of bulk queries."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from urllib.parse import quote

from ..blurhash_png import is_valid
from ..models import Actor, Media, Note
from ..sanitize import sanitize_html
from ..state import State
from ..storage import actors, media, timelines
from .auth import Viewer


def safe_url(url: str | None) -> str | None:
    """Remote URLs end up in src/href attributes: only http(s) and our own paths pass."""
    if not url:
        return None
    lowered = url.strip().lower()
    if lowered.startswith(("https://", "http://")) or (
        url.startswith("/") and not url.startswith("//")
    ):
        return url.strip()
    return None


@dataclass(frozen=True)
class AuthorView:
    actor: Actor
    name: str
    handle: str
    profile_url: str
    avatar: str | None
    local: bool
    is_bot: bool
    remote_url: str | None  # the profile on its own server (remote actors)


@dataclass(frozen=True)
class MediaView:
    media: Media
    src: str
    alt: str
    width: int | None
    height: int | None
    placeholder: str | None
    ai_generated: bool


@dataclass(frozen=True)
class Card:
    note: Note
    author: AuthorView
    media: list[MediaView]
    permalink: str  # our page for the thread
    original: str  # where the note lives (its url or id)
    likes: int = 0
    boosts: int = 0
    replies: int = 0
    liked: bool = False
    boosted: bool = False
    own: bool = False
    depth: int = 0
    focus: bool = False
    labels: list[str] = field(default_factory=list)


def author_view(actor: Actor) -> AuthorView:
    handle = f"@{actor.username}@{actor.domain.split(':')[0]}"
    profile = f"/@{actor.username}" if actor.local else f"/@{actor.username}@{actor.domain}"
    return AuthorView(
        actor=actor,
        name=actor.display_name or actor.username,
        handle=handle,
        profile_url=profile,
        avatar=safe_url(actor.icon_url),
        local=actor.local,
        is_bot=actor.is_bot,
        remote_url=None if actor.local else (safe_url(actor.url) or safe_url(actor.uri)),
    )


def actor_fields(actor: Actor) -> list[tuple[str, str]]:
    return [(name, sanitize_html(value)) for name, value in actor.fields]


def permalink(note: Note, author: Actor) -> str:
    if note.local and note.url:
        return note.url.removeprefix(_origin(note.url))
    return f"/notes/{note.id}"


def _origin(url: str) -> str:
    parts = url.split("/", 3)
    return "/".join(parts[:3]) if len(parts) >= 3 else ""


def media_view(m: Media) -> MediaView | None:
    src = safe_url(m.url)
    if src is None:
        return None
    return MediaView(
        media=m,
        src=src,
        alt=m.description,
        width=m.width,
        height=m.height,
        placeholder=placeholder_url(m.blurhash),
        ai_generated=m.ai_generated,
    )


def placeholder_url(blurhash: str | None) -> str | None:
    """Where the placeholder of a blurhash is served, or None for a missing or invalid one.

    The blurhash alphabet has ``#``, ``?`` and ``%``, which a browser reads as the start of a
    fragment, a query or an escape: everything outside the unreserved set is escaped (the
    server unescapes the path once, so a hash that looks escaped, ``%2F``, stays as it is)."""
    if not blurhash or not is_valid(blurhash):
        return None
    return f"/blurhash/{quote(blurhash, safe='')}.png"


async def cards(
    state: State,
    items: Sequence[Note],
    viewer: Viewer,
    *,
    depths: Sequence[int] | None = None,
    focus_id: int | None = None,
) -> list[Card]:
    if not items:
        return []
    ids = [n.id for n in items]
    authors = await actors.by_ids(state.db, [n.actor_id for n in items])
    attached = await media.for_notes(state.db, ids)
    counts = await timelines.counts_for(state.db, ids)
    flags = (
        await timelines.viewer_flags(state.db, viewer.actor_id, ids)
        if viewer.actor_id is not None
        else {}
    )
    out = []
    for index, n in enumerate(items):
        author = authors.get(n.actor_id)
        if author is None:
            continue
        likes, boosts, replies = counts.get(n.id, (0, 0, 0))
        liked, boosted = flags.get(n.id, (False, False))
        views = [v for m in attached.get(n.id, []) if (v := media_view(m)) is not None]
        labels = []
        if n.ai_generated or any(v.ai_generated for v in views):
            labels.append("AI-generated")
        out.append(
            Card(
                note=n,
                author=author_view(author),
                media=views,
                permalink=permalink(n, author),
                original=safe_url(n.url) or safe_url(n.uri) or "",
                likes=likes,
                boosts=boosts,
                replies=replies,
                liked=liked,
                boosted=boosted,
                own=viewer.actor_id == n.actor_id,
                depth=depths[index] if depths else 0,
                focus=n.id == focus_id,
                labels=labels,
            )
        )
    return out
