"""View models for the templates: notes become cards in a handful of bulk queries."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from html import escape

from .. import custom_emoji
from ..emoji_html import emojify_html, emojify_text
from ..federation.profile_edit import with_rel_me
from ..models import Actor, Media, Note
from ..sanitize import sanitize_html
from ..state import State
from ..storage import actors, card_counts, machine_alt, media
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
    "ReactionView",
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
    name_html: str = ""  # the name, escaped, its custom emoji drawn


@dataclass(frozen=True)
class QuoteView:
    """The quoted post in a card: nested when its author's server confirmed the quote."""

    state: str
    link: str
    mark: str | None  # why it is not shown (pending, declined, removed)
    card: Card | None = None


@dataclass(frozen=True)
class ReactionView:
    """One emoji given to a post and how often: ``label_html`` is escaped text, or the picture
    of a custom emoji from our cache (never its server's URL)."""

    label_html: str
    count: int


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
    content_html: str = ""  # the content with its custom emoji drawn
    summary_html: str | None = None  # the summary (escaped) likewise
    reactions: list[ReactionView] = field(default_factory=list)


def author_view(
    actor: Actor, files: CachedFiles | None = None, emoji: Mapping[str, str] | None = None
) -> AuthorView:
    """``files``: the cached copies of remote avatars (:func:`author_views` looks them up);
    a remote avatar not among them is shown as a placeholder, never from its server.
    ``emoji``: shortcode -> our picture, for the custom emoji in the name."""
    handle = f"@{actor.username}@{actor.domain.split(':')[0]}"
    profile = f"/@{actor.username}" if actor.local else f"/@{actor.username}@{actor.domain}"
    name = actor.display_name or actor.username
    return AuthorView(
        actor=actor,
        name=name,
        name_html=emojify_text(name, emoji or {}),
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
    pairs = await custom_emoji.actor_pairs(state, people)
    served = await custom_emoji.sources(state, pairs.values())
    return {
        a.id: author_view(a, files, custom_emoji.usable(pairs.get(a.id, ()), served))
        for a in people
    }


async def profile_emoji(state: State, actor: Actor) -> dict[str, str]:
    """Shortcode -> our picture, for one actor's name, bio and fields."""
    pairs = await custom_emoji.actor_pairs(state, [actor])
    served = await custom_emoji.sources(state, pairs.values())
    return custom_emoji.usable(pairs.get(actor.id, ()), served)


def original_link(note: Note) -> str:
    """Where "Original" points: the note's ``url`` only on the note's own host (a remote
    server could otherwise make our page link anywhere in its name), else its id."""
    url = safe_url(note.url)
    if url is not None and not note.local and not same_origin(url, note.uri):
        url = None
    return url or safe_url(note.uri) or ""


def actor_fields(actor: Actor, emoji: Mapping[str, str] | None = None) -> list[tuple[str, str]]:
    """A profile's fields: the name as text, the value sanitised, emoji drawn in both.

    Our own actors' links say rel="me" (profile_edit.field_html renders them); the sanitiser
    strips it, so it is put back only for them."""
    drawn = emoji or {}
    fields = []
    for name, value in actor.fields:
        html = sanitize_html(value)
        if actor.local:
            html = with_rel_me(html)
        fields.append((emojify_text(name, drawn), emojify_html(html, drawn)))
    return fields


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
    described = await machine_alts(state, viewer, attached)
    counts = await card_counts.counts_for(state.db, ids)
    flags = (
        await card_counts.viewer_flags(state.db, viewer.actor_id, ids)
        if viewer.actor_id is not None
        else {}
    )
    note_emoji = {n.id: custom_emoji.note_pairs(n) for n in items}
    people_emoji = await custom_emoji.actor_pairs(state, authors.values())
    given = await card_counts.emoji_reactions(state.db, ids)
    reaction_emoji = [[(e, u) for e, u, _ in rs if u] for rs in given.values()]
    served = await custom_emoji.sources(
        state, [*note_emoji.values(), *people_emoji.values(), *reaction_emoji]
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
            if (
                v := media_view(
                    m, files, note_sensitive=n.sensitive, machine_alt=described.get(m.id, "")
                )
            )
            is not None
        ]
        drawn = custom_emoji.usable(note_emoji[n.id], served)
        labels = []
        if n.ai_generated or any(v.ai_generated for v in views):
            labels.append("AI-generated")
        out.append(
            Card(
                note=n,
                author=author_view(
                    author, files, custom_emoji.usable(people_emoji.get(author.id, ()), served)
                ),
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
                content_html=emojify_html(n.content, drawn),
                summary_html=emojify_text(n.summary, drawn) if n.summary else None,
                reactions=[_reaction_view(*r, served) for r in given.get(n.id, [])],
            )
        )
    return out


def _reaction_view(
    emoji: str, url: str | None, count: int, served: Mapping[str, str]
) -> ReactionView:
    """A custom emoji is drawn once its picture is cached; until then, and for a picture we
    refused, its ``:shortcode:`` is shown as text, as in posts."""
    code = emoji.strip(":").partition("@")[0]
    src = served.get(url) if url else None
    if src and code:
        return ReactionView(emojify_text(f":{code}:", {code: src}), count)
    return ReactionView(escape(emoji), count)


async def machine_alts(
    state: State, viewer: Viewer, attached: Mapping[int, Sequence[Media]]
) -> dict[int, str]:
    """The automatic descriptions of these attachments, for a viewer who asked for them."""
    if viewer.actor_id is None or not state.config.ai.describe_images:
        return {}
    wanted = [m.id for ms in attached.values() for m in ms if not m.local and not m.description]
    if not wanted or not await machine_alt.wants(state.db, viewer.actor_id):
        return {}
    return {i: alt.text for i, alt in (await machine_alt.for_media(state.db, wanted)).items()}


def _quote_view(quoted: Quoted, inner: dict[str, Card]) -> QuoteView:
    state = quoted.quote.state
    card = inner.get(quoted.quote.quoted_uri) if state == "accepted" else None
    return QuoteView(state=state, link=link_of(quoted), mark=MARKS.get(state), card=card)
