"""Streaming (``/api/v1/streaming``): Mastodon's WebSocket and server-sent-events streams.

Streams: ``user`` (the home timeline's new statuses and the notifications),
``user:notification``, ``public``, ``public:local``, ``public:remote``, ``hashtag`` and
``hashtag:local`` (with ``tag``). Events are ``update``, ``status.update`` (an edit) and
``notification`` with the entity as a JSON *string*, and ``delete`` with the status id,
exactly as Mastodon sends them.

Events come from the in-process broker (``streams.py``) that new and deleted notes are
published to. What a stream shows is decided here, per viewer, with the web UI's rules: the
home timeline's membership (own posts, followed accounts, mentions) and its visibility check,
public statuses alone on the public and hashtag streams.
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
from ..storage import follows, moderation
from ..streams import StreamEvent
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
        # Notifications newer than this id are polled for (follows, favourites, reblogs are
        # not notes, so no broker event announces them); those already sent are not resent.
        self._cursor = notifications.NOTIFICATION_ID_MS * math.floor(state.now() * 1000)
        self._sent: collections.deque[int] = collections.deque(maxlen=SENT_MEMORY)

    async def _muted(self) -> frozenset[int]:
        """Whom the viewer muted or blocked, re-read every few seconds rather than per event."""
        now = time.monotonic()
        if self._hidden is None or now - self._hidden[0] > HIDDEN_TTL_SECONDS:
            found = await relations.hidden(self.state, self.actor)
            self._hidden = (now, found.from_timelines)
        return self._hidden[1]

    async def _in_home(self, note: Note) -> bool:
        me = self.actor
        if note.actor_id != me.id and not _addressed(note, me):
            follow = await follows.get(self.state.db, me.id, note.actor_id)
            if follow is None or follow.state != "accepted":
                return False
        return bool(await lookup.visible(self.state, me, [note]))

    async def _notifications(self, note: Note) -> list[dict[str, Any]]:
        """The notifications this note gives the viewer (a mention, a reply), as the REST
        endpoint lists them, so their ids are the same."""
        me = self.actor
        if note.actor_id == me.id or (not _addressed(note, me) and not note.in_reply_to_uri):
            return []  # neither a mention nor a reply: no query for the thousand other streams
        # Notifications of a note are at its published time; ids name milliseconds.
        ms = math.floor(note.published * 1000)
        items = await notifications.recent(
            self.state,
            me,
            before=(ms + 2) * 10_000,
            after=(ms - 1) * 10_000 - 1,
            oldest_first=True,
            limit=40,
        )
        mine = [i for i in items if i.note_id == note.id]
        docs = await notifications.entities(self.state, me, mine) if mine else []
        docs = [d for d in docs if int(d["id"]) not in self._sent]  # a poll may have sent it
        self._sent.extend(int(d["id"]) for d in docs)
        return docs

    async def polled(self, channels: set[Channel]) -> list[Message]:
        """Notifications stored since the last poll that no event brought (a follow, a
        favourite, a reblog), on the user channels; one query per poll."""
        user_channels = sorted(
            (c for c in channels if c.stream in ("user", "user:notification")),
            key=lambda c: c.stream,
        )
        if not user_channels:
            return []
        items = await notifications.recent(
            self.state, self.actor, before=None, after=self._cursor, oldest_first=True, limit=40
        )
        if not items:
            return []
        self._cursor = max(self._cursor, *(notifications.notification_id(i) for i in items))
        fresh = [i for i in items if notifications.notification_id(i) not in self._sent]
        docs = await notifications.entities(self.state, self.actor, fresh) if fresh else []
        self._sent.extend(int(d["id"]) for d in docs)
        return [
            Message(ch, "notification", json.dumps(doc)) for doc in docs for ch in user_channels
        ]

    async def messages(self, channels: set[Channel], event: StreamEvent) -> list[Message]:
        """The messages ``event`` makes on this connection's channels."""
        note = event.note
        out: list[Message] = []
        if note.actor_id in await self._muted():
            return out
        for ch in sorted(channels, key=lambda c: c.names):
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
            # Mastodon's event for an edit; its ``update`` notifications come by polling.
            name = "status.update" if event.kind == "edit" else "update"
            if ch.stream in ("user", "user:notification"):
                if ch.stream == "user" and await self._in_home(note):
                    out.append(Message(ch, name, await self._status(event, self.actor)))
                if event.kind == "new":
                    for doc in await self._notifications(note):
                        out.append(Message(ch, "notification", json.dumps(doc)))
            elif _on_public(ch, note) and await self._listed(event):
                out.append(Message(ch, name, await self._status(event, None)))
        return out

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
