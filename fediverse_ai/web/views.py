"""View models for the templates: notes become cards in a handful of bulk queries."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from ..federation.profile_edit import with_rel_me
from ..models import Actor, Note
from ..sanitize import sanitize_html
from ..state import State
from ..storage import actors, media, timelines
from ..vocab import same_origin
from .auth import Viewer
from .media_views import (
    AVATAR_PLACEHOLDER,
    CachedFiles,
    MediaView,
    cached_files,
    local_or_cached,
    media_view,
    remote_urls,
    safe_url,
)
from .polls import PollView, poll_views
from .quote_views import MARKS, Quoted, link_of, quoted_for

__all__ = [
    "AuthorView",
    "Card",
    "actor_fields",
    "author_view",
    "author_views",
    "cards",
    "original_link",
    "permalink",
    "safe_url",
]


@dataclass(frozen=True)
class AuthorView:
    actor: Actor
    name: str
    handle: str
    profile_url: str
    avatar: str  # ours: the local file, the cached copy, or a placeholder
    local: bool
    is_bot: bool
    remote_url: str | None  # the profile on its own server (remote actors)


@dataclass(frozen=True)
class QuoteView:
    """The quoted post in a card: nested when its author's server confirmed the quote."""

    state: str
    link: str
    mark: str | None  # why it is not shown (pending, declined, removed)
    card: Card | None = None


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
    poll: PollView | None = None
    quote: QuoteView | None = None


def author_view(actor: Actor, files: CachedFiles | None = None) -> AuthorView:
    """``files``: the cached copies of remote avatars (:func:`author_views` looks them up);
    a remote avatar not among them is shown as a placeholder, never from its server."""
    handle = f"@{actor.username}@{actor.domain.split(':')[0]}"
    profile = f"/@{actor.username}" if actor.local else f"/@{actor.username}@{actor.domain}"
    return AuthorView(
        actor=actor,
        name=actor.display_name or actor.username,
        handle=handle,
        profile_url=profile,
        avatar=local_or_cached(actor.icon_url, local=actor.local, files=files or {})
        or AVATAR_PLACEHOLDER,
        local=actor.local,
        is_bot=actor.is_bot,
        remote_url=None if actor.local else (safe_url(actor.url) or safe_url(actor.uri)),
    )


async def author_views(state: State, people: Sequence[Actor]) -> dict[int, AuthorView]:
    """Views of several actors, their cached avatars found in one query."""
    files = await cached_files(state, remote_urls(people))
    return {a.id: author_view(a, files) for a in people}


def original_link(note: Note) -> str:
    """Where "Original" points: the note's ``url`` only on the note's own host (a remote
    server could otherwise make our page link anywhere in its name), else its id."""
    url = safe_url(note.url)
    if url is not None and not note.local and not same_origin(url, note.uri):
        url = None
    return url or safe_url(note.uri) or ""


def actor_fields(actor: Actor) -> list[tuple[str, str]]:
    if actor.local:  # we rendered these: their links say rel="me" (profile_edit.field_html)
        return [(name, with_rel_me(sanitize_html(value))) for name, value in actor.fields]
    return [(name, sanitize_html(value)) for name, value in actor.fields]


def permalink(note: Note, author: Actor) -> str:
    if note.local and note.url:
        return note.url.removeprefix(_origin(note.url))
    return f"/notes/{note.id}"


def _origin(url: str) -> str:
    parts = url.split("/", 3)
    return "/".join(parts[:3]) if len(parts) >= 3 else ""


async def cards(
    state: State,
    items: Sequence[Note],
    viewer: Viewer,
    *,
    depths: Sequence[int] | None = None,
    focus_id: int | None = None,
    nested: bool = False,
) -> list[Card]:
    if not items:
        return []
    ids = [n.id for n in items]
    authors = await actors.by_ids(state.db, [n.actor_id for n in items])
    attached = await media.for_notes(state.db, ids)
    files = await cached_files(
        state, remote_urls(authors.values(), (m for ms in attached.values() for m in ms))
    )
    counts = await timelines.counts_for(state.db, ids)
    flags = (
        await timelines.viewer_flags(state.db, viewer.actor_id, ids)
        if viewer.actor_id is not None
        else {}
    )
    poll_of = await poll_views(state, items, viewer)
    quoted = await quoted_for(state, items, viewer)
    inner = (
        {}
        if nested or not quoted
        else {
            c.note.uri: c
            for c in await cards(
                state, [q.note for q in quoted.values() if q.note], viewer, nested=True
            )
        }
    )
    out = []
    for index, n in enumerate(items):
        author = authors.get(n.actor_id)
        if author is None:
            continue
        likes, boosts, replies = counts.get(n.id, (0, 0, 0))
        liked, boosted = flags.get(n.id, (False, False))
        views = [
            v
            for m in attached.get(n.id, [])
            if (v := media_view(m, files, note_sensitive=n.sensitive)) is not None
        ]
        labels = []
        if n.ai_generated or any(v.ai_generated for v in views):
            labels.append("AI-generated")
        out.append(
            Card(
                note=n,
                author=author_view(author, files),
                media=views,
                permalink=permalink(n, author),
                original=original_link(n),
                likes=likes,
                boosts=boosts,
                replies=replies,
                liked=liked,
                boosted=boosted,
                own=viewer.actor_id == n.actor_id,
                depth=depths[index] if depths else 0,
                focus=n.id == focus_id,
                labels=labels,
                poll=poll_of.get(n.id),
                quote=_quote_view(quoted[n.id], inner) if n.id in quoted else None,
            )
        )
    return out


def _quote_view(quoted: Quoted, inner: dict[str, Card]) -> QuoteView:
    state = quoted.quote.state
    card = inner.get(quoted.quote.quoted_uri) if state == "accepted" else None
    return QuoteView(state=state, link=link_of(quoted), mark=MARKS.get(state), card=card)
