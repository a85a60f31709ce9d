"""Fixtures for the interop tests: our server at https://a.test and a Fedify peer at
https://fedify.test, both behind the e2e harness's nginx TLS front.

The peer (``fedify-peer/peer.mjs``, @fedify/fedify 2.3.6 on Node) has one actor, ``alice``, and a
JSON control API under ``/_control/`` (see the file's header). Its Node dependencies come from
``bash scripts/install-interop-deps.sh``; without node or them the tests are skipped locally and
fail under CI, like the e2e tests.

The network here is module-scoped and separate from ``tests/e2e``'s session-scoped one (they
share a lock on port 443): run ``tests/interop`` in its own pytest process.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Generator, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import IO, Any

import httpx
import pytest
from e2e.conftest import require_cli, require_e2e_environment
from e2e.harness import Instance
from e2e.network import TLSNetwork
from e2e.procs import (
    _cleanups,
    free_port,
    register_cleanup,
    spawn,
    tail,
    terminate,
    unregister_cleanup,
)

HERE = Path(__file__).parent
PEER_DIR = HERE / "fedify-peer"
HOSTS = {"a.test": "127.0.10.1", "fedify.test": "127.0.10.3"}
PEER_START_TIMEOUT = 60.0

_live_peers: list[FedifyPeer] = []


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(pytest.mark.e2e)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """On failure, attach the peer's received activities and both logs."""
    report = yield
    if report.failed and HERE in item.path.parents:
        for peer in _live_peers:
            report.sections.append(("fedify peer received", peer.dump_received()))
            report.sections.append(("fedify peer log", peer.log_tail(80)))
        instance = item.funcargs.get("interop") if hasattr(item, "funcargs") else None
        if isinstance(instance, Interop):
            report.sections.append(("server log a.test", instance.ours.log_tail(80)))
    return report


def _require_node() -> None:
    problem = None
    if shutil.which("node") is None:
        problem = "node is not installed"
    elif not (PEER_DIR / "node_modules" / "@fedify" / "fedify").is_dir():
        problem = "the Fedify peer's node_modules are missing"
    if problem is None:
        return
    message = f"{problem} — run `bash scripts/install-interop-deps.sh`"
    if os.environ.get("CI"):
        pytest.fail(f"interop tests cannot run under CI: {message}", pytrace=False)
    pytest.skip(message)


def _e2e_network_running() -> bool:
    return any(isinstance(getattr(fn, "__self__", None), TLSNetwork) for fn in _cleanups)


class FedifyPeer:
    """The Node Fedify server, as a child process stopped by PID."""

    def __init__(self, *, domain: str, root: Path, ca_cert: Path) -> None:
        self.domain = domain
        self.base_url = f"https://{domain}"
        self.port = free_port()
        self.ca_cert = ca_cert
        self.log_path = root / "fedify-peer.log"
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    def actor_url(self, username: str = "alice") -> str:
        return f"{self.base_url}/users/{username}"

    def handle(self, username: str = "alice") -> str:
        return f"{username}@{self.domain}"

    def start(self) -> FedifyPeer:
        env = dict(os.environ, NODE_EXTRA_CA_CERTS=str(self.ca_cert), NODE_NO_WARNINGS="1")
        self._log = self.log_path.open("ab")
        argv = ["node", "peer.mjs", "--port", str(self.port), "--domain", self.domain]
        self._proc = spawn(argv, log=self._log, env=env, cwd=PEER_DIR)
        register_cleanup(self.stop)
        _live_peers.append(self)
        deadline = time.monotonic() + PEER_START_TIMEOUT
        while True:
            if self._proc.poll() is not None:
                raise AssertionError(f"fedify peer exited early:\n{self.log_tail()}")
            try:
                if httpx.get(self._control_url("state"), timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"fedify peer did not start:\n{self.log_tail()}")
            time.sleep(0.2)

    def stop(self) -> None:
        unregister_cleanup(self.stop)
        try:
            if self._proc is not None:
                terminate(self._proc, sig=signal.SIGTERM, timeout=10)
        finally:
            self._proc = None
            if self._log is not None:
                self._log.close()
                self._log = None
            if self in _live_peers:
                _live_peers.remove(self)

    def _control_url(self, command: str) -> str:
        return f"http://127.0.0.1:{self.port}/_control/{command}"

    def control(self, command: str, **payload: Any) -> Any:
        response = httpx.post(self._control_url(command), json=payload, timeout=30)
        assert response.status_code == 200, (
            f"peer /_control/{command} {payload}: {response.status_code} {response.text}\n"
            f"{self.log_tail()}"
        )
        return response.json()

    def received(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = httpx.get(self._control_url("received"), timeout=10).json()
        return result

    def state(self) -> dict[str, Any]:
        result: dict[str, Any] = httpx.get(self._control_url("state"), timeout=10).json()
        return result

    def dump_received(self) -> str:
        try:
            return json.dumps(self.received(), indent=1)[-20000:]
        except Exception as exc:  # the peer may be gone
            return f"(could not read the peer's received list: {exc!r})"

    def log_tail(self, lines: int = 60) -> str:
        return f"----- fedify peer log (last {lines} lines) -----\n" + tail(self.log_path, lines)


class Interop:
    """Our instance and the peer, on one network."""

    def __init__(self, ours: Instance, peer: FedifyPeer) -> None:
        self.ours = ours
        self.peer = peer

    def logs(self) -> str:
        return "\n".join(
            [
                "peer received:\n" + self.peer.dump_received(),
                self.peer.log_tail(),
                self.ours.log_tail(),
            ]
        )


@pytest.fixture(scope="module")
def interop_network(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TLSNetwork]:
    require_e2e_environment()
    _require_node()
    if _e2e_network_running():
        pytest.skip("tests/e2e's TLS network holds port 443: run tests/interop in its own pytest")
    network = TLSNetwork(tmp_path_factory.mktemp("interop-network"), HOSTS)
    try:
        network.start()
        yield network
    finally:
        network.close()


@pytest.fixture(scope="module")
def interop(
    interop_network: TLSNetwork, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Interop]:
    """Our server at https://a.test and the Fedify peer at https://fedify.test."""
    require_cli()
    root = tmp_path_factory.mktemp("interop")
    ours = Instance(name="Instance A", domain="a.test", root=root, tls=interop_network.files)
    peer = FedifyPeer(domain="fedify.test", root=root, ca_cert=interop_network.files.ca_cert)
    with ExitStack() as cleanup:  # every step runs even when one before it fails
        cleanup.callback(interop_network.set_routes, {})
        cleanup.callback(peer.stop)
        cleanup.callback(ours.close)
        interop_network.set_routes({ours.domain: ours.port, peer.domain: peer.port})
        peer.start()
        ours.start()
        yield Interop(ours, peer)
