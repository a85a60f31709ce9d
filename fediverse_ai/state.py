"""The typed State built at start-up and handed to every handler (no module globals)."""

from __future__ import annotations

import asyncio
import collections
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from . import __version__
from .config import Config
from .errors import StorageError
from .httpsig import ResolvedKey
from .inbox_client import InboxClient
from .keys import read_private_key
from .media_store import MediaStore
from .media_store import open_store as open_media_store
from .memo import Memo
from .metrics import Metrics
from .models import Account
from .netguard import NetGuard, pinned_transport
from .signing_auth import SignatureAuth
from .storage import account_keys, actors
from .storage.db import Database
from .storage.store import open_store
from .streams import Broker
from .urls import Urls

Clock = Callable[[], float]
BLOCKS_TTL_SECONDS = 5.0
# Per-process memos of reads that hot paths repeat (each read is a trip to SQLite's thread).
SENDER_TTL_SECONDS = 60.0  # a fan-out's thousands of deliveries have one sender
KEY_TTL_SECONDS = 60.0  # every inbox POST checks its signer's key; a key that fails is refetched
# A failure's count comes back from the database, with the other processes' (storage/domains.py),
# and an open circuit is read again before a delivery is held back: the memo is never far off.
CIRCUIT_TTL_SECONDS = 5.0
KEY_REFETCH_SECONDS = 60.0  # how long a refetch that changed nothing, or failed, holds
KEY_FETCHES_PER_HOST = 4


class KeyFetches:
    """Per-process bookkeeping of the inbox's key fetches (``federation.signer_keys``).

    Kept in memory on purpose, also with several processes (issue 15): the per-host slots
    coalesce one process's burst of fetches and keep its event loop from waiting on one slow
    host; N processes fetch at most N times ``per_host`` keys from a host at once, which is
    still a small constant. A slot in the database would cost two writes per fetch on the
    inbox's hot path, and nothing breaks when the bound is per process: the memos only save
    fetches, and a rotated key is refetched wherever a signature fails to verify.
    """

    def __init__(self, per_host: int = KEY_FETCHES_PER_HOST) -> None:
        # Key ids whose refetch found the key unchanged, and key ids that could not be fetched.
        self.unchanged: Memo[str, bool] = Memo(KEY_REFETCH_SECONDS)
        self.failed: Memo[str, bool] = Memo(KEY_REFETCH_SECONDS)
        self.in_flight: dict[str, asyncio.Future[ResolvedKey]] = {}
        self.per_host = per_host
        self._slots: dict[str, asyncio.Semaphore] = {}
        self._users: collections.Counter[str] = collections.Counter()

    @asynccontextmanager
    async def slot(self, host: str) -> AsyncIterator[None]:
        """At most ``per_host`` fetches from one host at a time; the others wait their turn."""
        semaphore = self._slots.setdefault(host, asyncio.Semaphore(self.per_host))
        self._users[host] += 1
        try:
            async with semaphore:
                yield
        finally:
            self._users[host] -= 1
            if not self._users[host]:
                del self._users[host], self._slots[host]


@dataclass
class State:
    config: Config
    db: Database
    http: httpx.AsyncClient
    guard: NetGuard
    urls: Urls
    inbox_client: InboxClient  # deliveries (the hot path); everything else goes through http
    # The inbox's key fetches have a pool of their own: a flood of unknown key ids must not
    # take the connections the worker fetches with.
    key_http: httpx.AsyncClient
    # Our files and the remote media cache: the media directory or a bucket (media_store).
    media: MediaStore
    clock: Clock = time.time
    # Per-process services built on first use (the AI backends), closed with the state.
    services: dict[str, Any] = field(default_factory=dict)
    _auth_cache: dict[int, SignatureAuth] = field(default_factory=dict)
    _senders: Memo[int, Account] = field(default_factory=lambda: Memo(SENDER_TTL_SECONDS))
    keys: Memo[str, ResolvedKey] = field(default_factory=lambda: Memo(KEY_TTL_SECONDS))
    key_fetches: KeyFetches = field(default_factory=KeyFetches)
    # A domain's delivery circuit: (failures, open until).
    circuits: Memo[str, tuple[int, float | None]] = field(
        default_factory=lambda: Memo(CIRCUIT_TTL_SECONDS)
    )
    # Worker.run registers its wake-up here: work queued in this process (deliveries, answers)
    # starts at once instead of at an idle loop's next poll.
    wakers: list[Callable[[int], None]] = field(default_factory=list)
    metrics: Metrics = field(default_factory=Metrics)  # this process's counters (/metrics)
    # New and deleted notes for the client API's open streams, of every process (streams.py).
    streams: Broker = field(default_factory=Broker)
    _blocks: tuple[float, frozenset[str]] | None = None
    _suspended: tuple[float, frozenset[str]] | None = None

    def now(self) -> float:
        return self.clock()

    def work_queued(self, jobs: int = 1) -> None:
        """``jobs`` new jobs are due: wake as many idle worker loops in this process."""
        for wake in self.wakers:
            wake(jobs)

    async def blocked_domains(self) -> frozenset[str]:
        """The config's blocked domains plus the admin's, re-read every few seconds so that a
        separate worker process picks up a new block quickly. The fetch guard follows."""
        now = time.monotonic()
        if self._blocks is not None and now - self._blocks[0] < BLOCKS_TTL_SECONDS:
            return self._blocks[1]
        from .storage import settings

        saved = await settings.domain_blocks(self.db)
        blocked = frozenset(d.lower() for d in self.config.federation.blocked_domains) | {
            b.domain for b in saved
        }
        if blocked != self.guard.blocked_domains:
            self.guard = replace(self.guard, blocked_domains=blocked)
        self._blocks = (now, blocked)
        return blocked

    def forget_blocked_domains(self) -> None:
        self._blocks = None

    async def suspended_actors(self) -> frozenset[str]:
        """The ids of the remote actors an admin suspended, re-read as the domain blocks are:
        the inbox refuses them without a query per POST."""
        now = time.monotonic()
        if self._suspended is not None and now - self._suspended[0] < BLOCKS_TTL_SECONDS:
            return self._suspended[1]
        from .storage import moderation

        found = await moderation.suspended_remote_uris(self.db)
        self._suspended = (now, found)
        return found

    def forget_suspended_actors(self) -> None:
        self._suspended = None

    def key_path(self, key_file: str) -> Path:
        return self.config.storage.keys_dir / key_file

    async def auth_for(self, account: Account) -> SignatureAuth:
        """The signer for one local actor, built once per process (the key is read and parsed
        once). Keyed by actor id, not URI: a name purged and signed up again is a new key."""
        auth = self._auth_cache.get(account.actor.id)
        if auth is None:
            pem = await self.private_key(account)
            key_id = account.actor.public_key_id or self.urls.key_id(account.actor.uri)
            auth = SignatureAuth(key_id, pem, self._datetime_now)
            self._auth_cache[account.actor.id] = auth
        return auth

    async def private_key(self, account: Account) -> str:
        """The account's key from its row. A key from before migration 0027 is read from its
        file and stored in the row by the first process that needs it, wherever that runs;
        from then on the file is not needed."""
        pem = await account_keys.private_key(self.db, account.actor.id)
        if pem is None:
            from_file = await asyncio.to_thread(read_private_key, self.key_path(account.key_file))
            pem = await account_keys.import_private_key(self.db, account.actor.id, from_file)
        if pem is None:
            raise StorageError(f"no account row for {account.actor.uri}")
        return pem

    async def sender(self, actor_id: int) -> Account | None:
        """The local account of a queued delivery, read at most once a minute."""
        account = self._senders.get(actor_id)
        if account is None:
            account = await actors.account_by_actor_id(self.db, actor_id)
            if account is not None:
                self._senders.put(actor_id, account)
        return account

    async def instance_auth(self) -> SignatureAuth:
        """Server-initiated GETs are signed by the instance actor (authorized-fetch peers)."""
        account = await actors.account_by_role(self.db, "instance")
        if account is None:
            raise RuntimeError("the instance actor is missing: run `fediverse-ai init`")
        return await self.auth_for(account)

    def _datetime_now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), UTC)


def user_agent(config: Config) -> str:
    return f"fediverse-ai/{__version__} (+{config.instance.base_url}/)"


def make_http_client(
    config: Config, guard: Callable[[], NetGuard], *, connections: int = 100
) -> httpx.AsyncClient:
    """A pooled client; redirects are followed by the fetcher, which guards each hop,
    and every connection goes to an address the guard checked at that moment."""
    limits = httpx.Limits(
        max_connections=connections, max_keepalive_connections=max(connections // 2, 1)
    )
    return httpx.AsyncClient(
        transport=pinned_transport(guard, limits=limits),
        follow_redirects=False,
        timeout=httpx.Timeout(30.0, connect=5.0, read=10.0),
        headers={"User-Agent": user_agent(config)},
    )


def make_guard(config: Config) -> NetGuard:
    return NetGuard(
        allow_private=config.federation.allow_private_addresses,
        blocked_domains=frozenset(d.lower() for d in config.federation.blocked_domains),
    )


@asynccontextmanager
async def open_state(config: Config, *, clock: Clock = time.time) -> AsyncIterator[State]:
    db = open_store(config.storage.database, pool_size=config.storage.pool_size)
    await db.open()
    state: State | None = None
    first_guard = make_guard(config)

    def current_guard() -> NetGuard:
        return state.guard if state is not None else first_guard

    http = make_http_client(config, current_guard)
    key_http = make_http_client(config, current_guard, connections=20)
    inbox_client = InboxClient(current_guard, user_agent=user_agent(config))
    try:
        await db.migrate()
        state = State(
            config=config,
            db=db,
            http=http,
            guard=first_guard,
            urls=Urls(config.instance.base_url),
            inbox_client=inbox_client,
            key_http=key_http,
            media=open_media_store(config.storage.media_dir, config.media_store),
            clock=clock,
            streams=Broker(db=db, fallback_seconds=config.storage.notify_fallback_seconds),
        )
        yield state
    finally:
        if state is not None:
            await state.streams.flush()
            state.streams.close()
        for service in state.services.values() if state else ():
            closer = getattr(service, "aclose", None)
            if closer is not None:
                await closer()
        await http.aclose()
        await key_http.aclose()
        await inbox_client.aclose()
        await db.close()
