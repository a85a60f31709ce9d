"""The AI generations running at once (``ai.limits.concurrency``), counted across every
process on the database.

A generation first takes this process's semaphore (no database trip while the process itself
is full), then a slot leased in the database (``storage/shared_limits.py``), renewed every
third of the lease while the backend works and given back at the end. A process that dies
holding one (kill -9, out of memory) cannot give it back: its lease runs out instead, and
the slot is free again ``slot_lease_seconds`` later. A holder names its host and process id,
as the job queue's workers do (``jobs.release_orphans``), so that a process on the same
machine that finds every slot taken gives back at once those of processes that are gone.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
import sqlite3
from collections.abc import AsyncIterator, Callable

from ..errors import StorageError
from ..storage import shared_limits
from ..storage.db import Database

log = logging.getLogger(__name__)

POOL = "ai"
# How often a generation waiting for a slot another process holds looks again: generations
# take seconds, so a slot is seldom free for long before someone looks.
WAIT_POLL_SECONDS = 0.25


class AISlots:
    """``async with slots.hold():`` around every call to a text or image backend."""

    def __init__(
        self,
        db: Database,
        *,
        size: int,
        lease_seconds: float,
        clock: Callable[[], float],
        pool: str = POOL,
        host: str | None = None,
    ) -> None:
        """``host``: this machine's name in the holders' names (``socket.gethostname()``)."""
        self.db = db
        self.host = host if host is not None else socket.gethostname()
        self.size = size
        self.lease_seconds = lease_seconds
        self.clock = clock
        self.pool = pool
        self._local = asyncio.Semaphore(size)

    @contextlib.asynccontextmanager
    async def hold(self) -> AsyncIterator[shared_limits.Lease]:
        async with self._local:
            lease = await self._wait()
            renewing = asyncio.create_task(self._renew(lease))
            try:
                yield lease
            finally:
                renewing.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await renewing
                await shared_limits.release(self.db, lease)

    async def _wait(self) -> shared_limits.Lease:
        holder = f"{self.host}:{os.getpid()}:{secrets.token_hex(8)}"
        while True:
            now = self.clock()
            # A read first: waiting processes should not queue for the write lock to learn
            # that every slot is still taken.
            held = await shared_limits.holders(self.db, self.pool, now=now)
            gone = [stale for stale in held if self._gone(stale.holder)]
            for stale in gone:
                log.info("AI slot %d: its process %s is gone; given back", stale.slot, stale.holder)
                await shared_limits.release(self.db, stale)
            if len(held) - len(gone) < self.size:
                taking = asyncio.ensure_future(
                    shared_limits.acquire(
                        self.db,
                        self.pool,
                        holder,
                        size=self.size,
                        now=now,
                        lease_seconds=self.lease_seconds,
                    )
                )
                try:
                    lease = await asyncio.shield(taking)
                except asyncio.CancelledError:
                    # The transaction runs to its end regardless: a slot it took would stay
                    # taken for a whole lease with nobody in it.
                    taken = await taking
                    if taken is not None:
                        await shared_limits.release(self.db, taken)
                    raise
                if lease is not None:
                    return lease
            await asyncio.sleep(WAIT_POLL_SECONDS)

    def _gone(self, holder: str) -> bool:
        """Whether ``holder`` names a process of this machine that no longer runs."""
        host, _, rest = holder.partition(":")
        pid = rest.partition(":")[0]
        if host != self.host or not pid.isdigit() or int(pid) == os.getpid():
            return False  # another machine's, or ours (maybe an earlier run under our pid)
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False  # some other user's process lives under that pid
        return False

    async def _renew(self, lease: shared_limits.Lease) -> None:
        while True:
            await asyncio.sleep(self.lease_seconds / 3)
            try:
                renewed = await shared_limits.renew(
                    self.db, lease, now=self.clock(), lease_seconds=self.lease_seconds
                )
            except (sqlite3.Error, StorageError) as exc:  # busy for long: try again later
                log.warning("AI slot %d lease not renewed: %s", lease.slot, exc)
                continue
            if not renewed:
                # The process stalled past its lease and another took the slot: the limit
                # is exceeded by one until this generation ends; say so rather than fail it.
                log.warning("AI slot %d lease ran out while still generating", lease.slot)
                return
