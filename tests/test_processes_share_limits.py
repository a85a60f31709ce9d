"""Two ``fediverse-ai run`` processes on one SQLite file, as behind a load balancer, count
against one limit (issue 15): the client API's requests per window, the login attempts, and
the AI generations running at once, whose slot a process killed with ``kill -9`` gives up
when its lease runs out.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from support.keys import seed_key_file
from support.live import bind_loopback, write_config

from fediverse_ai.bot.ai_slots import POOL, AISlots
from fediverse_ai.config import CONFIG_ENV, Config, load_config
from fediverse_ai.state import open_state
from fediverse_ai.storage import shared_limits

pytestmark = pytest.mark.slow

API_LIMIT = 5
LOGIN_ATTEMPTS = 10  # web/auth.py LOGIN_BURST
LEASE_SECONDS = 2.0
START_TIMEOUT_S = 60.0
_CSRF = re.compile(r'name="csrf" value="([^"]*)"')
# Holds one AI slot through the services a process really builds, until it is killed.
HOLDER = """
import asyncio, sys
from pathlib import Path
from fediverse_ai.bot.services import get_services
from fediverse_ai.config import load_config
from fediverse_ai.state import open_state

async def main():
    async with open_state(load_config(Path(sys.argv[1]))) as state:
        async with get_services(state).slots.hold() as lease:
            print(f"holding slot {lease.slot}", flush=True)
            await asyncio.sleep(3600)

asyncio.run(main())
"""


@dataclass(frozen=True)
class Site:
    """One instance served by two processes: ``a`` and ``b`` are their own addresses."""

    config_path: Path
    config: Config
    a: str
    b: str


def _free_port() -> int:
    with contextlib.closing(bind_loopback()) as sock:
        return int(sock.getsockname()[1])


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != CONFIG_ENV}


def _spawn(argv: list[str], cwd: Path, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            argv,
            cwd=cwd,
            env=_env(),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _stop(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _wait_served(proc: subprocess.Popen[bytes], url: str, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        assert proc.poll() is None, log.read_text(errors="replace")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/.well-known/nodeinfo", timeout=2).status_code == 200:
                return
        assert time.monotonic() < deadline, f"{url} did not start:\n{log.read_text()}"
        time.sleep(0.2)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    root = tmp_path_factory.mktemp("site")
    port_a, port_b = _free_port(), _free_port()
    extra = (
        f"[web]\napi_requests_per_five_minutes = {API_LIMIT}\n\n"
        f"[ai.limits]\nconcurrency = 1\nslot_lease_seconds = {LEASE_SECONDS}\n"
    )
    path_a = write_config(root, port_a, extra_toml=extra)
    # The second process: the same instance (domain, database, keys), its own port.
    path_b = root / "config-b.toml"
    path_b.write_text(
        path_a.read_text().replace(f"listen_port = {port_a}", f"listen_port = {port_b}")
    )
    config = load_config(path_a)
    seed_key_file(config.storage.keys_dir, f"{config.instance.host}.pem", "ours:instance")
    seed_key_file(config.storage.keys_dir, f"{config.ai.username}.pem", "ours:ai")
    procs: list[subprocess.Popen[bytes]] = []
    try:
        # One after the other: the first runs the migrations the second then finds done.
        for path, port in ((path_a, port_a), (path_b, port_b)):
            log = root / f"{path.stem}.log"
            argv = [sys.executable, "-m", "fediverse_ai", "--config", str(path), "run"]
            procs.append(_spawn(argv, root, log))
            _wait_served(procs[-1], f"http://127.0.0.1:{port}", log)
        yield Site(path_a, config, f"http://127.0.0.1:{port_a}", f"http://127.0.0.1:{port_b}")
    finally:
        for proc in procs:
            _stop(proc)


def test_the_api_rate_limit_counts_the_calls_to_every_process(site: Site) -> None:
    left = shared_limits.API_WINDOW_SECONDS - time.time() % shared_limits.API_WINDOW_SECONDS
    if left < 30:  # the counts start over at the window's end: not in mid-test
        time.sleep(left + 0.5)
    with httpx.Client(base_url=site.a, timeout=10) as a, httpx.Client(base_url=site.b) as b:
        for used in range(1, API_LIMIT + 1):
            served = (a if used % 2 else b).get("/api/v1/instance")
            assert served.status_code == 200
            assert served.headers["X-RateLimit-Remaining"] == str(API_LIMIT - used)
        for refusing in (a, b):
            refused = refusing.get("/api/v1/instance")
            assert refused.status_code == 429
            assert refused.json() == {"error": "Too many requests"}
            assert refused.headers["X-RateLimit-Limit"] == str(API_LIMIT)
            assert refused.headers["X-RateLimit-Remaining"] == "0"
            assert refused.headers["X-RateLimit-Reset"].endswith("Z")


def _login(client: httpx.Client, origin: str, username: str) -> httpx.Response:
    page = client.get("/login")
    found = _CSRF.search(page.text)
    assert found, page.text[:500]
    form = {"csrf": html.unescape(found.group(1)), "username": username, "password": "guess"}
    # Behind a load balancer the browser's Origin is the instance's, whichever process answers.
    return client.post("/login", data=form, headers={"Origin": origin})


def test_login_attempts_are_counted_by_every_process(site: Site) -> None:
    origin = site.config.instance.base_url
    with httpx.Client(base_url=site.a, timeout=30) as a, httpx.Client(base_url=site.b) as b:
        statuses = [_login(a, origin, "alice").status_code for _ in range(LOGIN_ATTEMPTS)]
        assert statuses == [401] * LOGIN_ATTEMPTS
        refused = _login(b, origin, "alice")
        assert refused.status_code == 429
        assert "too many login attempts" in refused.text


@contextlib.asynccontextmanager
async def _slot_holder(site: Site) -> AsyncIterator[subprocess.Popen[bytes]]:
    """A process holding the pool's only AI slot, renewing its lease; killed on exit."""
    log = site.config_path.parent / "holder.log"
    log.write_bytes(b"")
    argv = [sys.executable, "-c", HOLDER, str(site.config_path)]
    holder = _spawn(argv, site.config_path.parent, log)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while "holding slot 0" not in log.read_text():
            assert holder.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            await asyncio.sleep(0.1)
        yield holder
    finally:
        _stop(holder, signal.SIGKILL)


async def _wait_for_the_slot(slots: AISlots) -> float:
    """Seconds until ``slots`` gave this process the slot (given back at once after)."""
    started = time.monotonic()
    async with asyncio.timeout(LEASE_SECONDS + 5), slots.hold() as lease:
        assert lease.slot == 0
        return time.monotonic() - started


async def test_an_ai_slot_held_by_a_killed_process_is_free_once_its_lease_ran_out(
    site: Site,
) -> None:
    async with open_state(site.config) as state, _slot_holder(site) as holder:
        # Held for longer than one lease: the holder renews it while it works.
        await asyncio.sleep(LEASE_SECONDS * 1.5)
        taken = await shared_limits.acquire(
            state.db, POOL, "test", size=1, now=time.time(), lease_seconds=LEASE_SECONDS
        )
        assert taken is None
        _stop(holder, signal.SIGKILL)
        assert len(await shared_limits.holders(state.db, POOL, now=time.time())) == 1
        # A process on another machine cannot tell that the holder is gone: it waits for
        # the lease (renewed every third of it), and not longer.
        elsewhere = AISlots(
            state.db, size=1, lease_seconds=LEASE_SECONDS, clock=time.time, host="elsewhere"
        )
        waited = await _wait_for_the_slot(elsewhere)
        assert LEASE_SECONDS / 3 < waited < LEASE_SECONDS + 1
        assert await shared_limits.holders(state.db, POOL, now=time.time()) == []


async def test_on_the_same_machine_a_killed_processs_slot_is_given_back_at_once(
    site: Site,
) -> None:
    async with open_state(site.config) as state, _slot_holder(site) as holder:
        here = AISlots(state.db, size=1, lease_seconds=LEASE_SECONDS, clock=time.time)
        with pytest.raises(TimeoutError):  # while the holder lives, its slot is its own
            async with asyncio.timeout(0.6), here.hold():
                pass
        _stop(holder, signal.SIGKILL)
        assert len(await shared_limits.holders(state.db, POOL, now=time.time())) == 1
        assert await _wait_for_the_slot(here) < LEASE_SECONDS / 3
        assert await shared_limits.holders(state.db, POOL, now=time.time()) == []
