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

from .config import Config
from .storage import notify
from .storage.db import Database


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

    def poll_seconds(self) -> float:
        """How long an idle loop waits before it looks anyway: the poll interval, or while
        NOTIFY wakes it the (longer) safety poll, for jobs that come due later (retries) and
        a notification lost with its connection."""
        interval = self.config.worker.poll_interval_seconds
        if self.listening:
            return max(interval, self.config.storage.notify_fallback_seconds)
        return interval

    async def idle(self) -> bool:
        """Wait for a wake-up or the poll; True when the wake-up is to be passed on."""
        waiter: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._idle.append(waiter)
        try:
            with contextlib.suppress(TimeoutError):
                return await asyncio.wait_for(waiter, timeout=self.poll_seconds())
            return False
        finally:
            with contextlib.suppress(ValueError):
                self._idle.remove(waiter)
