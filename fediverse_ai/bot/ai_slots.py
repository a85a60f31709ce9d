"""The AI generations running at once (``ai.limits.concurrency``), counted across every
process on the database.

A generation first takes this process's semaphore (no database trip while the process itself
is full), then a slot leased in the database (``storage/shared_limits.py``), renewed every
third of the lease while the backend works and given back at the end. A process that dies
holding one (kill -9, out of memory) cannot give it back: its lease runs out instead, and
the slot is free again ``slot_lease_seconds`` later.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
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
    ) -> None:
        self.db = db
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
        holder = secrets.token_hex(16)
        while True:
            now = self.clock()
            # A read first: waiting processes should not queue for the write lock to learn
            # that every slot is still taken.
            if await shared_limits.held(self.db, self.pool, now=now) < self.size:
                lease = await shared_limits.acquire(
                    self.db,
                    self.pool,
                    holder,
                    size=self.size,
                    now=now,
                    lease_seconds=self.lease_seconds,
                )
                if lease is not None:
                    return lease
            await asyncio.sleep(WAIT_POLL_SECONDS)

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
