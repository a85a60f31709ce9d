"""The in-process broker behind the client API's streaming (issue 14): new, edited and
deleted notes, boosts, and the notifications no note announces (a follow, a favourite) are
published here where they are stored (the worker's inbox handlers, the local actions), and
every open stream takes what its viewer may see.

It is in memory because today the web server and the embedded worker are one process: a
note the worker stores (an AI answer, a remote post from the inbox queue) and the stream
that shows it share this object. Several processes (issue 15) will need a channel between
them instead, a table polled by id or SQLite's successor's LISTEN/NOTIFY; publishers call
:meth:`Broker.publish` alone, so only this module changes.

A stream that cannot keep up (its queue full: a client that stopped reading) is closed
rather than allowed to hold the events in memory; the app reconnects and reads the
timeline, as Mastodon's apps do after any disconnect.
"""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass, field
from typing import Any, Literal

from .models import Note

EventKind = Literal["new", "edit", "delete", "boost", "unboost"]
QUEUE_SIZE = 512
_serial = itertools.count(1)


@dataclass(frozen=True)
class Boost:
    """The announce behind a ``boost`` or ``unboost`` event (its row in ``announces``)."""

    announce_id: int
    actor_id: int
    published: float


@dataclass(eq=False)
class StreamEvent:
    """A note stored (``new``), edited (``edit``: the new version), deleted (``delete``;
    the note as it was, for its audience), boosted or no longer (``boost``, ``unboost``, with
    ``boost``).

    ``memo`` holds what the streams compute once per event and share (the rendered payload,
    who it notifies), so a thousand streams render one status once."""

    kind: EventKind
    note: Note
    boost: Boost | None = None
    serial: int = field(default_factory=lambda: next(_serial))
    memo: dict[Any, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Notice:
    """A notification of one account that no note event carries: a follow or follow request
    (``note_id`` None), a favourite, a poll's end, as stored (``at`` is the stored time, which
    names the notification's id). Only the streams of ``recipient_id`` look at it."""

    recipient_id: int
    kind: Literal["follow", "follow_request", "like", "poll"]
    actor_id: int
    note_id: int | None
    at: float


Event = StreamEvent | Notice


class Subscription:
    """One open stream's queue; iterate it for events, until the broker or a full queue ends it."""

    def __init__(self, broker: Broker, size: int) -> None:
        self._broker = broker
        self._queue: asyncio.Queue[Event | None] = asyncio.Queue(size)
        self.closed = False

    def offer(self, event: Event | None) -> None:
        if self.closed:
            return
        try:
            self._queue.put_nowait(event)
        except asyncio.QueueFull:
            self.close()

    def close(self) -> None:
        """End the stream: the reader gets None next (a full queue gets room for it)."""
        if self.closed:
            return
        self.closed = True
        self._broker.unsubscribe(self)
        while self._queue.full():
            self._queue.get_nowait()
        self._queue.put_nowait(None)

    async def next(self, idle_after: float | None = None) -> Event | Literal["idle"] | None:
        """The next event; None once closed; ``"idle"`` after ``idle_after`` seconds without."""
        try:
            return await asyncio.wait_for(self._queue.get(), idle_after)
        except TimeoutError:
            return "idle"


class Broker:
    """Fan-out of :class:`StreamEvent` to every open subscription of this process."""

    def __init__(self, queue_size: int = QUEUE_SIZE) -> None:
        self._subscriptions: set[Subscription] = set()
        self.queue_size = queue_size

    @property
    def listeners(self) -> int:
        return len(self._subscriptions)

    def subscribe(self) -> Subscription:
        sub = Subscription(self, self.queue_size)
        self._subscriptions.add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        self._subscriptions.discard(sub)

    def publish(self, kind: EventKind, note: Note, boost: Boost | None = None) -> None:
        """Hand an event to every stream; costs nothing when none is open."""
        if self._subscriptions:
            self._offer(StreamEvent(kind, note, boost))

    def notify(self, notice: Notice) -> None:
        """Hand a notification to the streams (its recipient's take it)."""
        if self._subscriptions:
            self._offer(notice)

    def _offer(self, event: Event) -> None:
        for sub in list(self._subscriptions):
            sub.offer(event)

    def close(self) -> None:
        """End every stream (shutdown)."""
        for sub in list(self._subscriptions):
            sub.close()
