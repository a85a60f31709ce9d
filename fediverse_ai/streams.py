"""The broker behind the client API's streaming (issue 14): new, edited and deleted notes,
boosts, and the notifications no note announces (a follow, a favourite) are published here
where they are stored (the worker's inbox handlers, the local actions), and every open
stream takes what its viewer may see.

The streams of the publishing process get the event at once, from memory. With a database
(``open_state`` gives one), every event is also written to ``stream_events`` (issue 15: a
``fediverse-ai worker`` process stores an AI answer that the streams of a web-only
``fediverse-ai run`` must show), and a process with streams open reads the rows other
processes wrote every :data:`POLL_SECONDS`, re-reading the notes they name. A process with no
stream open reads nothing, and while no other process has one open (``stream_readers``),
events are not written either. On PostgreSQL a reader LISTENs too (storage/notify.py): a row
stored wakes it at once; it polls every ``fallback_seconds``, and every :data:`POLL_SECONDS`
while its LISTEN connection is down. Publishers call :meth:`Broker.publish` alone.

Events are best-effort, as Mastodon's are: one stored by a process that dies before its row
is written is not streamed, and the app finds it when it reads the timeline. A stream that
cannot keep up (its queue full: a client that stopped reading) is closed rather than allowed
to hold the events in memory; the app reconnects and reads the timeline, as Mastodon's apps
do after any disconnect.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
import json
import logging
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Literal, cast, get_args

from .models import Note
from .storage import notes, notify, stream_events
from .storage.db import Database
from .storage.stream_events import EventRow

EventKind = Literal["new", "edit", "delete", "boost", "unboost"]
NoticeKind = Literal["follow", "follow_request", "like", "poll"]
QUEUE_SIZE = 512
# How often a process with streams open looks for other processes' events (unnoticed; ~50 µs).
POLL_SECONDS = 0.25
# PostgreSQL (NOTIFY wakes readers): safety poll, and the wait for LISTEN before polling.
FALLBACK_SECONDS = 30.0
LISTEN_WAIT_SECONDS = 10.0
READ_BATCH = 200
# A reading process renews its stream_readers row at half its lease; one killed leaves it for
# a lease at most. Publishers ask at most once a second whether anyone reads, so the first
# stream a process opens may miss the others' events of its first second.
READER_LEASE_SECONDS = 10.0
PRESENCE_SECONDS = 1.0
_NOTICE = "notice:"
# What a deleted note's streams look at (client_api/streaming.py): its audience.
_AUDIENCE = ("uri", "actor_id", "local", "visibility", "published", "to", "cc", "tags")
log = logging.getLogger(__name__)
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
    kind: NoticeKind
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
    """Fan-out of events to every open subscription of this process and, given ``db``, of
    every process on that database (see the module's docstring)."""

    def __init__(
        self,
        queue_size: int = QUEUE_SIZE,
        *,
        db: Database | None = None,
        poll_seconds: float = POLL_SECONDS,
        presence_seconds: float = PRESENCE_SECONDS,
        fallback_seconds: float = FALLBACK_SECONDS,
    ) -> None:
        self._subscriptions: set[Subscription] = set()
        self.queue_size = queue_size
        self._db = db
        self.poll_seconds = poll_seconds
        self.fallback_seconds = fallback_seconds
        # Set by a notification (or the LISTEN connection opening or dropping): read now.
        self._heard = asyncio.Event()
        self._listening = False
        self.presence_seconds = presence_seconds
        self._others: tuple[float, bool] | None = None  # (asked at, monotonic; answer)
        # Names this process's rows, which its own streams had at once.
        self.origin = uuid.uuid4().hex
        self._unwritten: list[EventRow] = []
        self._writer: asyncio.Task[None] | None = None
        self._reader: asyncio.Task[None] | None = None
        # Set while this process reads the others' events (tests wait for it).
        self.following = asyncio.Event()

    @property
    def listeners(self) -> int:
        return len(self._subscriptions)

    def subscribe(self) -> Subscription:
        sub = Subscription(self, self.queue_size)
        self._subscriptions.add(sub)
        if self._db is not None and (self._reader is None or self._reader.done()):
            self._reader = asyncio.get_running_loop().create_task(self._follow(self._db))
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        self._subscriptions.discard(sub)
        if not self._subscriptions:  # the reader stops now, not at its next poll (30 s on PG)
            self._heard.set()

    def publish(self, kind: EventKind, note: Note, boost: Boost | None = None) -> None:
        """Hand an event to every stream: this process's at once, the others' through the
        database (one small row, written after the caller's transaction, batched)."""
        if self._subscriptions:
            self._offer(StreamEvent(kind, note, boost))
        if self._db is not None:
            deleted = None
            if kind == "delete":
                deleted = json.dumps({k: getattr(note, k) for k in _AUDIENCE})
            self._share(
                EventRow(
                    self.origin,
                    kind,
                    note_id=note.id,
                    actor_id=boost.actor_id if boost else None,
                    announce_id=boost.announce_id if boost else None,
                    at=boost.published if boost else None,
                    deleted=deleted,
                )
            )

    def notify(self, notice: Notice) -> None:
        """Hand a notification to the streams (its recipient's take it)."""
        if self._subscriptions:
            self._offer(notice)
        if self._db is not None:
            self._share(
                EventRow(
                    self.origin,
                    _NOTICE + notice.kind,
                    note_id=notice.note_id,
                    actor_id=notice.actor_id,
                    recipient_id=notice.recipient_id,
                    at=notice.at,
                )
            )

    def _offer(self, event: Event) -> None:
        for sub in list(self._subscriptions):
            sub.offer(event)

    def _share(self, row: EventRow) -> None:
        """Queue ``row`` for the database; one task writes what is queued, in order."""
        others = self._others
        if (
            others is not None
            and not others[1]
            and time.monotonic() - others[0] < self.presence_seconds
        ):
            return  # no one else reads, as asked a moment ago: not even a task
        self._unwritten.append(dataclasses.replace(row, created_at=time.time()))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.get_running_loop().create_task(self._write())

    async def _write(self) -> None:
        assert self._db is not None
        while self._unwritten:
            batch, self._unwritten = self._unwritten, []
            try:
                if await self._others_read(self._db):
                    await stream_events.append(self._db, batch)
            except Exception:  # a stream event is not worth failing the work that made it
                log.exception("could not share %d stream events", len(batch))

    async def _others_read(self, db: Database) -> bool:
        """Whether another process has streams open (asked at most every
        ``presence_seconds``): with none, an event is not worth a row."""
        now = time.monotonic()
        if self._others is None or now - self._others[0] >= self.presence_seconds:
            found = await stream_events.others_read(db, self.origin, now=time.time())
            self._others = (now, found)
        return self._others[1]

    async def _follow(self, db: Database) -> None:
        """Deliver the other processes' events while a stream is open, from the newest row
        when it starts: a stream shows what happens while it is open. Checked again after
        the last await: a stream opened while the reader said goodbye finds no reader to
        start (this task is not done yet), so this one goes on."""
        while self._subscriptions:
            await self._follow_once(db)

    async def _follow_once(self, db: Database) -> None:
        listener = None
        if db.notifies:  # listening before the first read: a row stored after it wakes us
            self._heard.clear()
            listener = asyncio.get_running_loop().create_task(self._listen(db))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._heard.wait(), LISTEN_WAIT_SECONDS)
        try:
            await self._read_all(db)
        finally:
            if listener is not None:
                listener.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await listener

    async def _listen(self, db: Database) -> None:
        try:
            async for heard in db.listen(notify.STREAMS):
                self._listening = heard.listening
                self._heard.set()
        finally:
            self._listening = False

    async def _read_all(self, db: Database) -> None:
        await stream_events.reading(db, self.origin, until=time.time() + READER_LEASE_SECONDS)
        last = await stream_events.newest_id(db)
        self.following.set()
        try:
            await self._read_from(db, last)
        finally:
            # Said goodbye before `following` clears: whoever waits on it finds no reader row.
            try:
                with contextlib.suppress(Exception):  # shutting down: the lease runs out
                    await stream_events.done_reading(db, self.origin)
            finally:
                self.following.clear()

    async def _read_from(self, db: Database, last: int) -> None:
        renewed = time.monotonic()
        while self._subscriptions:
            self._heard.clear()  # before the read: a row stored during it wakes the next one
            try:
                renewed = await self._renew(db, renewed)
                rows = await stream_events.after(db, last, limit=READ_BATCH)
                for row in rows:
                    last = row.id
                    if row.origin == self.origin:
                        continue
                    event = await self._event(db, row)
                    if event is not None and self._subscriptions:
                        self._offer(event)
            except Exception:
                log.exception("could not read the stream events")
                rows = []
            if len(rows) < READ_BATCH:
                renewed = await self._pause(db, renewed)

    async def _renew(self, db: Database, renewed: float) -> float:
        """Renew the reader row at half its lease; when it was last renewed (monotonic)."""
        if time.monotonic() - renewed < READER_LEASE_SECONDS / 2:
            return renewed
        await stream_events.reading(db, self.origin, until=time.time() + READER_LEASE_SECONDS)
        return time.monotonic()

    async def _pause(self, db: Database, renewed: float) -> float:
        """Wait for a notification or the poll (on PostgreSQL longer than the reader lease,
        renewed meanwhile without a read)."""
        wait = self.poll_seconds
        if self._listening:
            wait = max(wait, self.fallback_seconds)
        deadline = time.monotonic() + wait
        while (left := deadline - time.monotonic()) > 0 and not self._heard.is_set():
            renew_in = renewed + READER_LEASE_SECONDS / 2 - time.monotonic()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._heard.wait(), max(0.0, min(left, renew_in)))
            try:
                renewed = await self._renew(db, renewed)
            except Exception:
                log.exception("could not renew the stream reader")
                renewed = time.monotonic()  # tried: again at the next half lease
        return renewed

    async def _event(self, db: Database, row: EventRow) -> Event | None:
        """The event a row names, as its publisher had it: the note read back (gone since:
        nothing to show), a deleted one rebuilt from its audience."""
        if row.kind.startswith(_NOTICE):
            kind = row.kind.removeprefix(_NOTICE)
            if kind not in get_args(NoticeKind) or row.recipient_id is None:
                return None
            return Notice(
                row.recipient_id,
                cast(NoticeKind, kind),
                int(row.actor_id or 0),
                row.note_id,
                float(row.at or 0),
            )
        if row.kind not in get_args(EventKind) or row.note_id is None:
            return None
        kind = cast(EventKind, row.kind)
        boost = None
        if row.announce_id is not None and row.actor_id is not None:
            boost = Boost(row.announce_id, row.actor_id, float(row.at or 0))
        if row.deleted is not None:
            return StreamEvent(kind, _deleted_note(row.note_id, row.deleted), boost)
        note = await notes.by_id(db, row.note_id)
        return None if note is None else StreamEvent(kind, note, boost)

    async def flush(self) -> None:
        """Write the events still queued (before the database closes)."""
        if self._writer is not None:
            await self._writer

    def close(self) -> None:
        """End every stream (shutdown)."""
        for sub in list(self._subscriptions):
            sub.close()
        if self._reader is not None:
            self._reader.cancel()


def _deleted_note(note_id: int, audience: str) -> Note:
    found = json.loads(audience)
    return Note(
        id=note_id,
        uri=str(found["uri"]),
        actor_id=int(found["actor_id"]),
        local=bool(found["local"]),
        content="",
        visibility=found["visibility"],
        published=float(found["published"]),
        published_text="",
        to=tuple(found["to"]),
        cc=tuple(found["cc"]),
        tags=tuple(found["tags"]),
    )
