"""How the worker's idle loops are woken: by work queued in this process, by another
process's enqueue (PostgreSQL's NOTIFY, storage/notify.py), or by their poll.

Each idle loop waits on its own future, and a wake-up resolves one, so that one enqueued job
does not send every idle loop to claim (each claim is a write transaction). A notification
says that jobs were added, not how many: the loop it wakes passes the wake-up on when it finds
a job (``chain``), so a fan-out brings in as many loops as it has jobs for and a single job
costs one claim per worker process.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging

from .config import Config
from .storage import jobs, notify
from .storage.db import Database

log = logging.getLogger(__name__)


class Wakeups:
    def __init__(self, config: Config) -> None:
        self.config = config
        self._idle: collections.deque[asyncio.Future[bool]] = collections.deque()
        # Counts wake-ups: one that came while a loop's claim found nothing is not lost.
        self.count = 0
        # Whether another process's enqueue wakes us now: then idle loops need only the slow
        # safety poll.
        self.listening = False

    def wake(self, jobs: int = 1, *, chain: bool = False) -> None:
        """Up to ``jobs`` idle loops stop waiting; with ``chain``, each of them that finds a
        job wakes one more."""
        self.count += 1
        while self._idle and jobs > 0:
            waiter = self._idle.popleft()
            if not waiter.done():
                waiter.set_result(chain)
                jobs -= 1

    async def listen(self, db: Database) -> None:
        """Wake an idle loop whenever another process enqueues, and when the LISTEN connection
        opens or drops (what was sent meanwhile was missed)."""
        try:
            async for heard in db.listen(notify.JOBS):
                self.listening = heard.listening
                self.wake(1, chain=True)
        finally:
            self.listening = False

    async def poll_seconds(self, db: Database, now: float) -> float:
        """How long an idle loop waits before it looks anyway: the poll interval; while NOTIFY
        wakes it, until the next pending job comes due (a retry, a delayed federation), at
        most the safety poll (a notification lost with its connection)."""
        interval = self.config.worker.poll_interval_seconds
        if not self.listening:
            return interval
        wait = max(interval, self.config.storage.notify_fallback_seconds)
        try:
            due = await jobs.next_due(db)
        except Exception:  # the poll is the fallback: it must not fail the loop
            log.exception("could not read when the next job is due")
            return interval
        # A due job that the claim skipped (its kind's slots full, its queue's head running)
        # is looked at again at the poll interval, as without NOTIFY.
        return wait if due is None else min(wait, max(interval, due - now))

    async def idle(self, db: Database, now: float) -> bool:
        """Wait for a wake-up or the poll; True when the wake-up is to be passed on."""
        waiter: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._idle.append(waiter)
        try:
            timeout = await self.poll_seconds(db, now)
            with contextlib.suppress(TimeoutError):
                return await asyncio.wait_for(waiter, timeout=timeout)
            return False
        finally:
            with contextlib.suppress(ValueError):
                self._idle.remove(waiter)
