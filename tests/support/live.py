"""Our own server, live: a real uvicorn on 127.0.0.1 serving ``create_app`` in the test's loop.

The server runs without its embedded worker so that tests decide when jobs run: the
``LiveServer`` carries a second ``State`` opened on the same SQLite file (its own
connections, as a separate worker process would have) and ``drain()`` runs every due
job through a real ``Worker``. Everything is torn down on exit, also when the test fails.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import httpx
import uvicorn

from fediverse_ai.accounts import ensure_account, ensure_builtin_actors
from fediverse_ai.app import create_app
from fediverse_ai.config import Config, load_config
from fediverse_ai.models import Account
from fediverse_ai.state import State, open_state
from fediverse_ai.storage import actors
from fediverse_ai.worker import Worker

from .keys import seed_key_file
from .postgres import suite_database

__all__ = [
    "AS2_ACCEPT",
    "WATCHED_TABLES",
    "LiveServer",
    "bind_loopback",
    "live_server",
    "serve_asgi",
]

AS2_ACCEPT = "application/activity+json"
DEFAULT_DATABASE = "data/fediverse-ai.sqlite3"
STARTUP_TIMEOUT_S = 30.0

#: Tables whose row counts tell whether a request changed anything.
WATCHED_TABLES = (
    "activities",
    "notes",
    "follows",
    "jobs",
    "reactions",
    "announces",
    "blocks",
    "reports",
    "tombstones",
)


def bind_loopback(port: int = 0, host: str = "127.0.0.1") -> socket.socket:
    """A TCP socket bound on loopback (port 0: a free one), for uvicorn to listen on.

    Binding before the server starts gives the port without a race, which the config
    needs (ids contain it). SO_REUSEADDR lets a stopped server come back on its port.
    """
    if not host.startswith("127."):
        raise ValueError("test servers listen on 127.0.0.0/8 only")
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


@asynccontextmanager
async def serve_asgi(
    app: Any, sock: socket.socket, *, lifespan: Literal["on", "off"] = "on"
) -> AsyncIterator[uvicorn.Server]:
    """Serve ``app`` on ``sock`` with uvicorn as a task of the running loop.

    Returns once the server accepts connections; on exit asks it to stop and waits
    until it has, so no server outlives its test.
    """
    config = uvicorn.Config(
        app,
        lifespan=lifespan,
        log_config=None,
        log_level="warning",
        access_log=False,
        http="h11",
        ws="wsproto",
        timeout_graceful_shutdown=5,
    )
    server = uvicorn.Server(config)

    async def run() -> None:
        try:
            await server.serve(sockets=[sock])
        except SystemExit as exc:  # uvicorn exits the process when the app's startup fails
            raise RuntimeError(f"test server failed to start (exit {exc.code})") from None

    task = asyncio.create_task(run())
    try:
        async with asyncio.timeout(STARTUP_TIMEOUT_S):
            while not server.started:
                if task.done():
                    task.result()
                    raise RuntimeError("test server stopped before it started")
                await asyncio.sleep(0.01)
        yield server
    finally:
        server.should_exit = True
        with suppress(asyncio.CancelledError):
            await task
        sock.close()


@dataclass
class LiveServer:
    """A running fediverse-ai and a second ``State`` for inspecting and driving it."""

    config: Config
    base_url: str
    state: State
    ai: Account
    instance: Account

    @property
    def shared_inbox(self) -> str:
        return f"{self.base_url}/inbox"

    def inbox(self, username: str) -> str:
        return f"{self.base_url}/users/{username}/inbox"

    async def drain(self) -> int:
        """Run every due job (inbox processing, deliveries) now; returns how many ran."""
        return await Worker(self.state).drain()

    async def account(self, username: str) -> Account:
        """A local human account, created on first use."""
        key_file = self.config.storage.keys_dir / f"{username}.pem"
        if not key_file.exists():
            seed_key_file(key_file.parent, key_file.name, f"ours:{username}")
        return await ensure_account(self.state, username, role="user")

    async def refreshed(self, account: Account) -> Account:
        found = await actors.account_by_actor_id(self.state.db, account.actor.id)
        assert found is not None
        return found

    async def count(self, sql: str, params: Sequence[Any] = ()) -> int:
        return int(await self.state.db.fetchval(sql, params) or 0)

    async def counts(self, tables: Sequence[str] = WATCHED_TABLES) -> dict[str, int]:
        """Row counts of ``tables``; compare before and after to prove nothing changed."""
        return {t: await self.count(f"SELECT COUNT(*) FROM {t}") for t in tables}

    async def get_as2(self, url: str) -> httpx.Response:
        """GET a URL of ours as a fediverse peer would (unsigned, AS2 accepted)."""
        async with httpx.AsyncClient(timeout=10.0) as client:
            return await client.get(url, headers={"Accept": AS2_ACCEPT})


def write_config(
    directory: Path,
    port: int,
    *,
    blocked_domains: Sequence[str] = (),
    extra_toml: str = "",
    allow_private: bool = True,
    instance_toml: str = "",
    database: Path | str = DEFAULT_DATABASE,
) -> Path:
    blocked = ", ".join(f'"{d}"' for d in blocked_domains)
    text = f"""
[instance]
domain = "127.0.0.1:{port}"
scheme = "http"
name = "test instance"
{instance_toml}

[server]
listen_host = "127.0.0.1"
listen_port = {port}
embedded_worker = false

[storage]
database = "{database}"
media_dir = "data/media"
keys_dir = "keys"

[federation]
allow_private_addresses = {"true" if allow_private else "false"}
blocked_domains = [{blocked}]
{extra_toml}
"""
    path = directory / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


@asynccontextmanager
async def live_server(
    directory: Path,
    *,
    blocked_domains: Sequence[str] = (),
    extra_toml: str = "",
    allow_private: bool = True,
    instance_toml: str = "",
    database: Path | str = DEFAULT_DATABASE,
) -> AsyncIterator[LiveServer]:
    """fediverse-ai on a free loopback port, with its data under ``directory``.

    ``instance_toml``: more keys of ``[instance]`` (``open_registrations = true``).
    ``allow_private=False`` is production's SSRF guard: nothing on loopback is reachable
    (the configured AI backends excepted), so remote peers cannot be used, only local accounts.
    """
    directory.mkdir(parents=True, exist_ok=True)
    if database == DEFAULT_DATABASE:
        database = suite_database(DEFAULT_DATABASE)
    sock = bind_loopback()
    try:
        port = sock.getsockname()[1]
        config = load_config(
            write_config(
                directory,
                port,
                blocked_domains=blocked_domains,
                extra_toml=extra_toml,
                allow_private=allow_private,
                instance_toml=instance_toml,
                database=database,
            )
        )
        keys_dir = config.storage.keys_dir
        seed_key_file(keys_dir, f"{config.instance.host}.pem", "ours:instance")
        seed_key_file(keys_dir, f"{config.ai.username}.pem", "ours:ai")
        async with open_state(config) as state:
            instance, ai = await ensure_builtin_actors(state)
            app = create_app(config, embedded_worker=False)
            async with serve_asgi(app, sock):
                # The embedded worker shares the server's State, so its new notes reach the
                # server's open streams; this driving State does the same.
                state.streams = app.extensions["fediverse_ai.holder"].state.streams
                yield LiveServer(
                    config=config,
                    base_url=config.instance.base_url,
                    state=state,
                    ai=ai,
                    instance=instance,
                )
    finally:
        sock.close()
