"""Signed stand-in peers behind the e2e harness's TLS front, for tests of hostile federation.

``evil.test`` and ``victim.test`` are :class:`~support.remote.RemoteFediverse` servers (real
HTTP, real signatures) in the test's own event loop, reached through the same nginx as our
instance at ``https://a.test``, so every request crosses the production-shaped front both ways.

The peers run in the test's event loop: a test must wait with :func:`until` (never a blocking
sleep) and run CLI commands with :func:`cli`, in a thread, or the peers cannot answer the
instance's fetches in the meantime.
"""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AsyncExitStack, ExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import pytest
from support.remote import RemoteFediverse

from .harness import Instance
from .network import TLSFiles, TLSNetwork
from .procs import free_port
from .test_federation_e2e import db_row

T = TypeVar("T")

PEER_HOSTS = ("evil.test", "victim.test")


@dataclass
class Front:
    """Our instance and the ports its peers listen on behind nginx."""

    instance: Instance
    tls: TLSFiles
    ports: dict[str, int]

    @property
    def inbox(self) -> str:
        return f"{self.instance.base_url}/inbox"


def peer_ports() -> dict[str, int]:
    return {host: free_port() for host in PEER_HOSTS}


@pytest.fixture(scope="module")
def front(tls_network: TLSNetwork, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Front]:
    """Our instance, refetching actors on every use (``actor_cache_seconds = 0``), so that a
    signer's cached actor is as stale as an attacker could wish."""
    root = tmp_path_factory.mktemp("e2e-security")
    a = Instance(
        name="Instance A",
        domain="a.test",
        root=root,
        tls=tls_network.files,
        federation="allow_private_addresses = true\nactor_cache_seconds = 0",
    )
    ports = peer_ports()
    with ExitStack() as cleanup:
        cleanup.callback(tls_network.set_routes, {})
        cleanup.callback(a.close)
        tls_network.set_routes({a.domain: a.port, **ports})
        a.start()
        for name in ("carol", "dave"):
            a.cli("user", "add", name)
        yield Front(a, tls_network.files, ports)


@asynccontextmanager
async def peers(front: Front) -> AsyncIterator[tuple[RemoteFediverse, RemoteFediverse]]:
    """``evil.test`` (users mallory and alice) and ``victim.test`` (bob), started fresh."""
    async with AsyncExitStack() as stack:
        made = []
        for host, users in (("evil.test", ("mallory", "alice")), ("victim.test", ("bob",))):
            peer = RemoteFediverse(users, public_base=f"https://{host}", ca_bundle=front.tls.bundle)
            peer.port = front.ports[host]
            await peer.start()
            stack.push_async_callback(peer.stop)
            made.append(peer)
        yield made[0], made[1]


async def until(
    predicate: Callable[[], T | None], *, timeout: float = 20.0, message: str = "not met"
) -> T:
    """Poll ``predicate`` without blocking the event loop the peers serve from."""
    deadline = time.monotonic() + timeout
    last: BaseException | None = None
    while time.monotonic() < deadline:
        try:
            value = predicate()
        except Exception as exc:  # a database still being written, say: not yet
            last = exc
        else:
            if value:
                return value
        await asyncio.sleep(0.1)
    raise AssertionError(f"{message} (last error: {last!r})")


async def cli(
    instance: Instance, *args: str, check: bool = True
) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(instance.cli, *args, check=check)


def inbox_job(instance: Instance, activity_id: str) -> dict[str, Any] | None:
    return db_row(
        instance,
        "SELECT state, attempts, last_error FROM jobs WHERE dedupe_key = ?",
        (f"inbox:{activity_id}",),
    )


async def settled(instance: Instance, activity_id: str) -> dict[str, Any]:
    """The activity's inbox job once it ran at least once (done, failed or due again)."""

    def ran() -> dict[str, Any] | None:
        job = inbox_job(instance, activity_id)
        if job is None or job["state"] == "running":
            return None
        return job if job["state"] != "pending" or job["attempts"] >= 1 else None

    return await until(ran, message=f"the inbox job of {activity_id} never ran")
