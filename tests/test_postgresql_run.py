"""`fediverse-ai run` on PostgreSQL: the server process, its embedded worker and a CLI process
share one PostgreSQL database, and a note posted from the CLI reaches a follower, signed.

Given a throw-away PostgreSQL cluster, a config whose ``storage.database`` is its URL and a
remote peer on loopback, when the peer follows our AI actor and ``fediverse-ai post --as ai``
publishes a note, then the follower's inbox receives the Create, signed by the AI, and the
server serves the note at its id (storage/pg.py, issue 15).
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
from support.keys import seed_key_file
from support.live import AS2_ACCEPT, bind_loopback
from support.postgres import Cluster
from support.remote import RemoteFediverse

from fediverse_ai.config import CONFIG_ENV
from fediverse_ai.storage.store import open_store

STARTUP_S = 60.0


def write_config(directory: Path, port: int, database: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "config.toml"
    path.write_text(
        f"""
[instance]
domain = "127.0.0.1:{port}"
scheme = "http"
name = "postgresql instance"

[server]
listen_host = "127.0.0.1"
listen_port = {port}
embedded_worker = true

[storage]
database = "{database}"
media_dir = "data/media"
keys_dir = "keys"

[federation]
allow_private_addresses = true

[worker]
poll_interval_seconds = 0.1
""",
        encoding="utf-8",
    )
    seed_key_file(directory / "keys", f"127.0.0.1:{port}.pem", "ours:instance")
    seed_key_file(directory / "keys", "ai.pem", "ours:ai")
    return path


async def cli(config: Path, *args: str) -> str:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "fediverse_ai", "--config", str(config), *args,
        cwd=config.parent, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    out, _ = await asyncio.wait_for(proc.communicate(), timeout=120)
    text = out.decode(errors="replace")
    assert proc.returncode == 0, text
    return text


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != CONFIG_ENV}


async def until(check: Callable[[], object], message: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, message
        await asyncio.sleep(0.1)


async def served(config: Path, base: str) -> AsyncIterator[asyncio.subprocess.Process]:
    log = (config.parent / "server.log").open("wb")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "fediverse_ai", "--config", str(config), "run",
        cwd=config.parent, env=_env(), stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + STARTUP_S
        async with httpx.AsyncClient(timeout=2) as http:
            while True:
                assert proc.returncode is None, (config.parent / "server.log").read_text()
                try:
                    if (await http.get(f"{base}/.well-known/nodeinfo")).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                assert time.monotonic() < deadline, (config.parent / "server.log").read_text()
                await asyncio.sleep(0.2)
        yield proc
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), timeout=15)
            except TimeoutError:
                proc.kill()
                await proc.wait()
        log.close()


async def test_run_on_postgresql_federates_a_note_posted_from_the_cli(
    tmp_path: Path, pg_cluster: Cluster, remote: RemoteFediverse
) -> None:
    url = pg_cluster.url(pg_cluster.new_schema())
    with bind_loopback() as sock:
        port = sock.getsockname()[1]  # released just before the server binds it
    config = write_config(tmp_path / "ours", port, url)
    base = f"http://127.0.0.1:{port}"
    ai_uri = f"{base}/users/ai"
    async for _server in served(config, base):
        follow = remote.activity("alice", "Follow", ai_uri)
        response = await remote.send(f"{ai_uri}/inbox", follow)
        assert response.status_code == 202, response.text
        await until(lambda: remote.posts(type="Accept"), "no Accept from the embedded worker")
        [accept] = remote.posts(type="Accept")
        assert accept.verified, accept.error

        out = await cli(config, "post", "--as", "ai", "Hello from PostgreSQL")
        await until(lambda: remote.posts(type="Create"), f"no Create delivered; cli said {out}")
        [create] = remote.posts(type="Create")
        assert create.verified and create.signer == ai_uri, create.error
        assert create.activity is not None
        note = create.activity["object"]
        assert "Hello from PostgreSQL" in note["content"]
        async with httpx.AsyncClient(timeout=10) as http:
            page = await http.get(note["id"], headers={"Accept": AS2_ACCEPT})
        assert page.status_code == 200 and page.json()["content"] == note["content"]
    # Everything above lived in PostgreSQL: the schema holds the note and the follow, and no
    # job (the start-up ones included: retention's purge, the key checks) met an error.
    async with open_store(url) as db:
        assert await db.fetchval("SELECT COUNT(*) FROM notes WHERE local = 1") == 1
        assert await db.fetchval("SELECT COUNT(*) FROM follows WHERE state = 'accepted'") == 1
        failed = await db.fetchall("SELECT kind, last_error FROM jobs WHERE last_error IS NOT NULL")
        assert [tuple(r) for r in failed] == []
    log = (tmp_path / "ours" / "server.log").read_text()
    assert "Traceback" not in log, log
    assert not any(Path(tmp_path / "ours").rglob("*.sqlite3")), "a SQLite file was created"
