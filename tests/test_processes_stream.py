"""A web-only ``fediverse-ai run --no-worker`` and a ``fediverse-ai worker`` on one SQLite
file (issue 15): the AI's answer, stored by the worker process, reaches a client streaming
from the web process, through the database's ``stream_events``. On PostgreSQL the same with
every poll an hour apart: the web process's job wakes the worker process, and the worker's
events wake the web process's stream reader, by NOTIFY alone (storage/notify.py)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import queue
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from client_api.support import user_token
from client_api.test_api_streaming import Ws
from support.keys import seed_key_file
from support.live import DEFAULT_DATABASE, LiveServer, write_config
from support.postgres import Cluster
from test_processes_share_limits import _free_port, _spawn, _stop, _wait_served
from web.support import make_user

from fediverse_ai.accounts import ensure_builtin_actors
from fediverse_ai.config import load_config
from fediverse_ai.state import open_state
from fediverse_ai.storage import notify

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class Processes:
    """The web process as a :class:`LiveServer` (``state`` is this test's own, which the
    users are made with), and the two processes' logs."""

    server: LiveServer
    logs: tuple[Path, Path]

    def logged(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')}" for p in self.logs)


@contextlib.asynccontextmanager
async def web_and_worker(
    root: Path, database: Path | str = DEFAULT_DATABASE, *, hourly: bool = False
) -> AsyncIterator[Processes]:
    port = _free_port()
    text = write_config(root, port, database=database).read_text()
    # The config asks for the embedded worker: --no-worker is what turns it off.
    text = text.replace("embedded_worker = false", "embedded_worker = true")
    if hourly:  # no poll comes in time: only a notification can wake a process
        text = text.replace(
            'keys_dir = "keys"', 'keys_dir = "keys"\nnotify_fallback_seconds = 3600.0'
        )
        text += "\n[worker]\npoll_interval_seconds = 3600.0\n"
    # A short answer: the machine may be busy, and the answer's length is not the point.
    text += "\n[ai.text]\nmax_tokens = 12\n"
    path = root / "config.toml"
    path.write_text(text)
    config = load_config(path)
    seed_key_file(config.storage.keys_dir, f"{config.instance.host}.pem", "ours:instance")
    seed_key_file(config.storage.keys_dir, f"{config.ai.username}.pem", "ours:ai")
    procs: list[subprocess.Popen[bytes]] = []
    logs = (root / "web.log", root / "worker.log")
    cli = [sys.executable, "-m", "fediverse_ai", "--config", str(path)]
    try:
        async with open_state(config) as state:
            instance, ai = await ensure_builtin_actors(state)
            procs.append(_spawn([*cli, "run", "--no-worker"], root, logs[0]))
            await asyncio.to_thread(_wait_served, procs[0], config.instance.base_url, logs[0])
            procs.append(_spawn([*cli, "worker"], root, logs[1]))
            server = LiveServer(config, config.instance.base_url, state, ai, instance)
            yield Processes(server, logs)
    finally:
        for proc in procs:
            _stop(proc)


async def test_the_workers_answer_streams_from_the_web_process(tmp_path: Path) -> None:
    async with web_and_worker(tmp_path) as procs:
        await _answer_streams(procs)


async def test_on_postgresql_notifications_wake_both_processes(
    tmp_path: Path, pg_cluster: Cluster
) -> None:
    schema = pg_cluster.new_schema()
    async with web_and_worker(tmp_path, pg_cluster.url(schema), hourly=True) as procs:
        # Given a worker process listening for jobs, whose loops poll hourly
        channel = f"{notify.JOBS}.{schema}"
        deadline = time.monotonic() + 60
        while not await _listens(pg_cluster, channel):
            assert time.monotonic() < deadline, f"the worker never listened\n{procs.logged()}"
            await asyncio.sleep(0.1)
        await _answer_streams(procs)


async def _listens(pg_cluster: Cluster, channel: str) -> bool:
    found = await asyncio.to_thread(
        pg_cluster.psql,
        f"SELECT count(*) FROM pg_stat_activity WHERE query = 'LISTEN \"{channel}\"'",
    )
    return int(found) > 0


async def _answer_streams(procs: Processes) -> None:
    server = procs.server
    async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as http:
        # Given a web process that runs no jobs itself
        health = (await http.get("/healthz")).json()
        assert health["worker"] == "not running", health
        await make_user(server, "alice")
        _, alice = await user_token(server, "alice", new_user=False)
        user = await Ws.open(server, f"?stream=user&access_token={alice}")
        try:
            # When Alice asks the AI from an app connected to the web process
            asked = (
                await http.post(
                    "/api/v1/statuses",
                    data={"status": "@ai why is the sky blue?"},
                    headers={"Authorization": f"Bearer {alice}"},
                )
            ).json()
            (own,) = await user.frames(1)
            assert json.loads(own["payload"])["id"] == asked["id"]
            # Then the answer the worker process stored (a thread of its notes) arrives
            # on her stream, each note once: an update and a mention notification with the
            # REST endpoint's id
            try:  # the offline model's answer takes a minute or more on a loaded machine
                frames = await user.frames(2, timeout=240)
            except queue.Empty:
                pytest.fail(f"no answer streamed\n{procs.logged()}")
            frames += await until_quiet(user)
            payloads = [(f["event"], json.loads(f["payload"])) for f in frames]
            told = [doc for event, doc in payloads if event == "notification"]
            updates = [doc["id"] for event, doc in payloads if event == "update"]
            assert {event for event, _ in payloads} == {"update", "notification"}, frames
            assert all(n["type"] == "mention" and n["account"]["acct"] == "ai" for n in told)
            assert told[0]["status"]["in_reply_to_id"] == asked["id"]
            assert updates == [n["status"]["id"] for n in told]
            listed = (
                await http.get(
                    "/api/v1/notifications", headers={"Authorization": f"Bearer {alice}"}
                )
            ).json()
            assert sorted(n["id"] for n in told) == sorted(n["id"] for n in listed)
            assert len({n["id"] for n in told}) == len(told)
        finally:
            await user.close()


async def until_quiet(ws: Ws, quiet: float = 2.0) -> list[dict[str, object]]:
    """The frames that come until none has for ``quiet`` seconds."""
    out = []
    while True:
        try:
            out.extend(await ws.frames(1, timeout=quiet))
        except queue.Empty:
            return out
