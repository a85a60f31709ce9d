"""Streaming (``/api/v1/streaming``): Mastodon's WebSocket and server-sent-events streams.

Streams: ``user`` (the home timeline's new statuses and boosts, and the notifications),
``user:notification``, ``public``, ``public:local``, ``public:remote``, ``hashtag`` and
``hashtag:local`` (with ``tag``). Events are ``update``, ``status.update`` (an edit) and
``notification`` with the entity as a JSON *string*, and ``delete`` with the status id,
exactly as Mastodon sends them.

Events come from the broker (``streams.py``) that new, edited, deleted and boosted notes and
the other notifications (follows, favourites) are published to where they are stored, in
this process or, through the database, in another (a ``fediverse-ai worker``). What a stream
shows is decided here, per viewer, with the web UI's rules: the home timeline's membership
(own posts, followed accounts and their boosts, mentions) and its visibility check, public
statuses alone on the public and hashtag streams, and a notification read back as the REST
endpoint lists it (same id, same mutes).
"""

from __future__ import annotations

import asyncio
import collections
import json
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from ..models import Actor, Note
from ..state import State
from ..storage import actors, client_api, follows, moderation, reactions, timelines
from ..streams import Boost, Event, Notice, StreamEvent
from . import lookup, notifications, relations
from .entities import Builder

#: The streams a client may ask for, with the scope each needs (Mastodon's).
STREAMS = {
    "user": "read:statuses",
    "user:notification": "read:notifications",
    "public": "read:statuses",
    "public:local": "read:statuses",
    "public:remote": "read:statuses",
    "hashtag": "read:statuses",
    "hashtag:local": "read:statuses",
}
MAX_TAG = 100
HIDDEN_TTL_SECONDS = 5.0
SENT_MEMORY = 500
_USER = ("user", "user:notification")


@dataclass(frozen=True)
class Channel:
    """One stream a connection is subscribed to; ``tag`` (lower case) for hashtag streams."""

    stream: str
    tag: str | None = None

    @property
    def names(self) -> list[str]:
        """The ``stream`` field of its events: ``["hashtag", "cats"]`` or ``["user"]``."""
        return [self.stream, self.tag] if self.tag is not None else [self.stream]


@dataclass(frozen=True)
class Message:
    channel: Channel
    event: str
    payload: str

    def websocket(self) -> str:
        return json.dumps(
            {"stream": self.channel.names, "event": self.event, "payload": self.payload}
        )

    def sse(self) -> bytes:
        return f"event: {self.event}\ndata: {self.payload}\n\n".encode()


def channel(stream: str, tag: str | None) -> Channel | str:
    """The channel for a request's ``stream`` and ``tag``, or why there is none."""
    if stream not in STREAMS:
        return "Unknown stream type"
    if stream.startswith("hashtag"):
        tag = (tag or "").strip().lstrip("#").lower()
        if not tag or len(tag) > MAX_TAG:
            return "No tag for stream provided"
        return Channel(stream, tag)
    return Channel(stream)


def _addressed(note: Note, viewer: Actor) -> bool:
    mentioned = any(t.get("type") == "Mention" and t.get("href") == viewer.uri for t in note.tags)
    return mentioned or viewer.uri in note.to or viewer.uri in note.cc


def _hashtags(note: Note) -> set[str]:
    return {
        str(t.get("name", "")).lstrip("#").lower() for t in note.tags if t.get("type") == "Hashtag"
    }


def _on_public(ch: Channel, note: Note) -> bool:
    if note.visibility != "public":
        return False
    if ch.stream in ("public:local", "hashtag:local") and not note.local:
        return False
    if ch.stream == "public:remote" and note.local:
        return False
    return not ch.stream.startswith("hashtag") or ch.tag in _hashtags(note)


async def _shared(event: StreamEvent, key: Any, make: Callable[[], Awaitable[Any]]) -> Any:
    """Compute something once per event for every stream that needs it, even when a
    thousand streams ask at the same moment."""
    task = event.memo.get(key)
    if task is None:
        task = event.memo[key] = asyncio.ensure_future(make())
    return await asyncio.shield(task)


class Viewer:
    """What one connection's account may see of the broker's events."""

    def __init__(self, state: State, actor: Actor) -> None:
        self.state = state
        self.actor = actor
        self._hidden: tuple[float, frozenset[int]] | None = None
        # Notification ids already sent: an event published twice (a job run again after a
        # crash) is not shown twice.
        self._sent: collections.deque[int] = collections.deque(maxlen=SENT_MEMORY)

    async def _muted(self) -> frozenset[int]:
        """Whom the viewer muted or blocked, re-read every few seconds rather than per event."""
        now = time.monotonic()
        if self._hidden is None or now - self._hidden[0] > HIDDEN_TTL_SECONDS:
            found = await relations.hidden(self.state, self.actor)
            self._hidden = (now, found.from_timelines)
        return self._hidden[1]

    async def _follows(self, actor_id: int) -> bool:
        follow = await follows.get(self.state.db, self.actor.id, actor_id)
        return follow is not None and follow.state == "accepted"

    async def _in_home(self, note: Note) -> bool:
        me = self.actor
        if (
            note.actor_id != me.id
            and not _addressed(note, me)
            and not await self._follows(note.actor_id)
        ):
            return False
        return bool(await lookup.visible(self.state, me, [note]))

    async def _found(
        self, at: float, wanted: Callable[[timelines.Notification], bool]
    ) -> list[dict[str, Any]]:
        """The viewer's notifications stored at ``at`` that ``wanted`` picks, as the REST
        endpoint lists them (so with its ids), less those this stream sent already."""
        ms = math.floor(at * 1000)  # ids name the millisecond; one either side for rounding
        items = await notifications.recent(
            self.state,
            self.actor,
            before=(ms + 2) * notifications.NOTIFICATION_ID_MS,
            after=(ms - 1) * notifications.NOTIFICATION_ID_MS - 1,
            oldest_first=True,
            limit=40,
        )
        fresh = [
            i for i in items if wanted(i) and notifications.notification_id(i) not in self._sent
        ]
        docs = await notifications.entities(self.state, self.actor, fresh) if fresh else []
        self._sent.extend(int(d["id"]) for d in docs)
        return docs

    async def _notifications(self, event: StreamEvent) -> list[dict[str, Any]]:
        """The notifications a note event gives the viewer: a mention, a reply or a post of
        someone followed with "notify me" (new), an
        ``update`` of a post the viewer boosted (edit), a ``reblog`` of theirs (boost)."""
        me, note = self.actor, event.note
        if event.kind == "boost" and event.boost is not None:
            booster = event.boost.actor_id
            if note.actor_id != me.id or booster == me.id:
                return []
            return await self._found(
                event.boost.published,
                lambda i: i.kind == "boost" and i.actor_id == booster and i.note_id == note.id,
            )
        if event.kind == "edit":
            if note.actor_id == me.id or me.id not in await self._boosters(event):
                return []
            at = note.updated or note.published  # the history's replaced_at
            return await self._found(at, lambda i: i.kind == "update" and i.note_id == note.id)
        if note.actor_id == me.id:
            return []
        kinds = {"mention", "reply"} if _addressed(note, me) or note.in_reply_to_uri else set()
        if (
            note.in_reply_to_uri is None
            and note.visibility != "direct"
            and me.id in await self._notify_followers(event)
        ):
            kinds.add("status")
        if not kinds:
            return []  # nothing for this viewer: no query for the thousand other streams
        # Notifications of a note are at its published time.
        return await self._found(note.published, lambda i: i.kind in kinds and i.note_id == note.id)

    async def _noticed(self, channels: set[Channel], notice: Notice) -> list[Message]:
        """A follow or a favourite, on the recipient's user channels alone."""
        user_channels = sorted((c for c in channels if c.stream in _USER), key=lambda c: c.names)
        if notice.recipient_id != self.actor.id or not user_channels:
            return []
        docs = await self._found(
            notice.at,
            lambda i: (
                i.kind == notice.kind
                and i.actor_id == notice.actor_id
                and i.note_id == notice.note_id
            ),
        )
        return [
            Message(ch, "notification", json.dumps(doc)) for doc in docs for ch in user_channels
        ]

    async def messages(self, channels: set[Channel], event: Event) -> list[Message]:
        """The messages ``event`` makes on this connection's channels."""
        if isinstance(event, Notice):
            return await self._noticed(channels, event)
        note = event.note
        out: list[Message] = []
        muted = await self._muted()
        if event.kind in ("boost", "unboost"):
            if event.boost is None or event.boost.actor_id in muted or note.actor_id in muted:
                return out
        elif note.actor_id in muted:
            return out
        ordered = sorted(channels, key=lambda c: c.names)
        if event.kind == "unboost" and event.boost is not None:
            return await self._unboosted(ordered, event.boost)
        told: list[dict[str, Any]] = []
        if event.kind != "delete" and any(ch.stream in _USER for ch in ordered):
            told = await self._notifications(event)  # once: both user channels show them
        for ch in ordered:
            if event.kind == "delete":
                seen = (
                    _on_public(ch, note)
                    if not ch.stream.startswith("user")
                    else (
                        ch.stream == "user"
                        and (note.actor_id == self.actor.id or _addressed(note, self.actor))
                    )
                )
                if seen:
                    out.append(Message(ch, "delete", str(note.id)))
                continue
            if ch.stream in _USER:
                if ch.stream == "user":
                    out.extend(await self._home(ch, event))
                out.extend(Message(ch, "notification", json.dumps(doc)) for doc in told)
            elif event.kind == "boost":
                continue  # boosts are not on the public timelines (Mastodon's rule too)
            elif _on_public(ch, note) and await self._listed(event):
                name = "status.update" if event.kind == "edit" else "update"
                out.append(Message(ch, name, await self._status(event, None)))
        return out

    async def _unboosted(self, ordered: list[Channel], boost: Boost) -> list[Message]:
        """An undone boost leaves the home streams that showed it: ``delete`` of the reblog's
        id (the boosted post's visibility no longer matters: the reblog is gone either way)."""
        if not any(ch.stream == "user" for ch in ordered):
            return []
        if not await self._follows(boost.actor_id):
            return []
        reblog_id = str(client_api.REBLOG_ID_BASE + boost.announce_id)
        return [Message(ch, "delete", reblog_id) for ch in ordered if ch.stream == "user"]

    async def _home(self, ch: Channel, event: StreamEvent) -> list[Message]:
        """The home timeline's part of a note event: the status, its edit, or the boost of
        it by an account the viewer follows (as ``update``, the reblog wrapping the post)."""
        if event.kind != "boost":
            if not await self._in_home(event.note):
                return []
            name = "status.update" if event.kind == "edit" else "update"
            return [Message(ch, name, await self._status(event, self.actor))]
        boost, note = event.boost, event.note
        if boost is None or note.visibility not in ("public", "unlisted"):
            return []  # the home query's rule: only public and unlisted posts come as boosts
        if not await self._follows(boost.actor_id) or not await lookup.visible(
            self.state, self.actor, [note]
        ):
            return []
        booster = await _shared(
            event, "booster", lambda: actors.by_id(self.state.db, boost.actor_id)
        )
        if booster is None:
            return []
        announce = client_api.Announce(boost.announce_id, boost.actor_id, note.id, boost.published)
        doc = await Builder(self.state, self.actor).reblog(announce, note, booster)
        return [Message(ch, "update", json.dumps(doc))]

    async def _notify_followers(self, event: StreamEvent) -> frozenset[int]:
        """Who follows the author with "notify me" (a ``status`` notification), read once."""
        found = await _shared(
            event,
            "notify",
            lambda: follows.notifying(self.state.db, followee_id=event.note.actor_id),
        )
        return frozenset(found)

    async def _boosters(self, event: StreamEvent) -> frozenset[int]:
        """Who boosted an edited note (they get an ``update`` notification), read once."""
        return frozenset(
            await _shared(
                event, "boosters", lambda: reactions.booster_ids(self.state.db, event.note.id)
            )
        )

    async def _listed(self, event: StreamEvent) -> bool:
        """Whether the author may be on public timelines (not silenced or suspended), asked
        once per event for every public stream."""

        async def check() -> bool:
            found = await moderation.standing(self.state.db, event.note.actor_id)
            return not (found.silenced or found.suspended)

        return bool(await _shared(event, "listed", check))

    async def _status(self, event: StreamEvent, viewer: Actor | None) -> str:
        """A public status is rendered once for every stream; a home one for its viewer."""

        async def render() -> str:
            return json.dumps(await Builder(self.state, viewer).status(event.note))

        return str(await _shared(event, ("status", viewer.id if viewer else None), render))
