"""Domain records shared by storage, federation and web code (plain frozen dataclasses)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from .vocab import BOT_TYPES

Visibility = Literal["public", "unlisted", "followers", "direct"]
VISIBILITIES: tuple[Visibility, ...] = ("public", "unlisted", "followers", "direct")
Role = Literal["user", "ai", "instance"]


@dataclass(frozen=True)
class Actor:
    id: int
    uri: str
    local: bool
    username: str
    domain: str
    type: str
    display_name: str = ""
    summary: str = ""
    url: str | None = None
    inbox: str | None = None
    shared_inbox: str | None = None
    outbox: str | None = None
    followers_url: str | None = None
    following_url: str | None = None
    featured_url: str | None = None
    icon_url: str | None = None
    image_url: str | None = None
    public_key_id: str | None = None
    public_key_pem: str | None = None
    manually_approves: bool = False
    discoverable: bool = True
    indexable: bool = True
    fields: tuple[tuple[str, str], ...] = ()
    published: float = 0.0
    fetched_at: float | None = None
    also_known_as: tuple[str, ...] = ()  # actor ids of the same person (account migration)
    moved_to: str | None = None
    #: Custom emoji its name, bio and fields may show: (shortcode, picture URL) pairs.
    emojis: tuple[tuple[str, str], ...] = ()

    @property
    def acct(self) -> str:
        return f"{self.username}@{self.domain}"

    @property
    def is_bot(self) -> bool:
        return self.type in BOT_TYPES

    @property
    def delivery_inbox(self) -> str | None:
        return self.shared_inbox or self.inbox


@dataclass(frozen=True)
class Account:
    actor: Actor
    role: Role
    key_file: str
    is_admin: bool = False


@dataclass(frozen=True)
class Media:
    id: int
    note_id: int | None
    actor_id: int
    local: bool
    position: int
    url: str
    media_type: str
    file_name: str | None = None
    width: int | None = None
    height: int | None = None
    blurhash: str | None = None
    description: str = ""
    ai_generated: bool = False
    sensitive: bool = False


@dataclass(frozen=True)
class Note:
    id: int
    uri: str
    actor_id: int
    local: bool
    content: str
    visibility: Visibility
    published: float
    published_text: str
    url: str | None = None
    source: str | None = None
    summary: str | None = None
    sensitive: bool = False
    language: str | None = None
    in_reply_to_uri: str | None = None
    context_uri: str | None = None
    to: tuple[str, ...] = ()
    cc: tuple[str, ...] = ()
    tags: tuple[dict[str, Any], ...] = ()
    ai_generated: bool = False
    updated: float | None = None
    updated_text: str | None = None
    title: str | None = None  # an Article's or Page's name


@dataclass(frozen=True)
class Job:
    id: int
    kind: str
    payload: dict[str, Any]
    attempts: int
    dedupe_key: str | None = None
    state: str = "pending"
    last_error: str | None = None
    run_after: float = 0.0


@dataclass(frozen=True)
class Follow:
    id: int
    uri: str | None
    follower_id: int
    followee_id: int
    state: Literal["pending", "accepted"]


@dataclass(frozen=True)
class NewAttachment:
    """An image on its way into a local note (already processed by the media pipeline)."""

    data: bytes
    media_type: str
    extension: str
    width: int
    height: int
    blurhash: str
    description: str = ""
    ai_generated: bool = False
    # An image uploaded earlier through the client API: its file and media row already
    # exist, and publishing attaches that row instead of writing ``data`` again.
    upload_id: int | None = None
    file_name: str | None = None


#: What our users' polls may be (Mastodon's limits, the web form's choices).
POLL_MIN_OPTIONS = 2
POLL_MAX_OPTIONS = 4
POLL_MAX_OPTION_CHARS = 50
POLL_MIN_SECONDS = 5 * 60
POLL_MAX_SECONDS = 7 * 24 * 3600


@dataclass(frozen=True)
class NewPoll:
    """A poll a local author attaches to a new post."""

    titles: tuple[str, ...]
    multiple: bool
    duration: float  # seconds from publication to endTime

    def problem(self) -> str | None:
        """Why this poll cannot be published, in words for the author; None when it can."""
        if not POLL_MIN_OPTIONS <= len(self.titles) <= POLL_MAX_OPTIONS:
            return f"a poll needs {POLL_MIN_OPTIONS} to {POLL_MAX_OPTIONS} options"
        if any(not t.strip() or len(t) > POLL_MAX_OPTION_CHARS for t in self.titles):
            return f"each poll option needs 1 to {POLL_MAX_OPTION_CHARS} characters"
        if len({t.strip() for t in self.titles}) != len(self.titles):
            return "poll options must differ from each other"
        if not POLL_MIN_SECONDS <= self.duration <= POLL_MAX_SECONDS:
            return "a poll runs from 5 minutes to 7 days"
        return None


@dataclass(frozen=True)
class Draft:
    """What a local author asks to publish; the publisher fills in ids and addressing."""

    text: str
    visibility: Visibility = "public"
    summary: str | None = None
    language: str | None = None
    in_reply_to: str | None = None
    attachments: tuple[NewAttachment, ...] = ()
    ai_generated: bool = False
    sensitive: bool = False
    extra_mentions: tuple[str, ...] = field(default=())
    # AI answers, whose text a model wrote: exactly these actors (ids) are mentioned and
    # addressed, never anyone named in the text, whose "@" are all made inert.
    audience: tuple[str, ...] | None = None
    # With ``audience``: the only URLs that become links (those the thread itself contained).
    link_urls: frozenset[str] = frozenset()
    poll: NewPoll | None = None
    quote: str | None = None  # the id of the post quoted
    quote_policy: str | None = None  # who may quote this post ("public", "followers", "nobody")
