"""Fixtures for the interop tests: our server at https://a.test and two real peers, a Fedify
server at https://fedify.test and a bovine-herd server at https://bovine.test, all behind the
e2e harness's nginx TLS front.

- ``fedify-peer/peer.mjs``: @fedify/fedify 2.3.6 on Node, one actor ``alice``, auto-accepts
  follows. Node dependencies from ``bash scripts/install-interop-deps.sh``.
- ``bovine-peer/peer.py``: bovine-herd 0.5.19 under hypercorn, in its own virtualenv
  ``.cache/bovine-venv`` (same script), one actor ``alice``; it accepts follows only when told
  to, through its client-to-server outbox.

Each peer has a JSON control API under ``/_control/`` (see the files' headers) and records the
activities it received and every HTTP exchange in and out; a failing test's report carries
them, with our server's log. Without node or the bovine venv the tests of that peer are skipped
locally and fail under CI, like the e2e tests.

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
from e2e.network import LOCK_TIMEOUT_SECONDS, TLSNetwork
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
REPO = HERE.parent.parent
FEDIFY_DIR = HERE / "fedify-peer"
BOVINE_DIR = HERE / "bovine-peer"
BOVINE_PYTHON = REPO / ".cache" / "bovine-venv" / "bin" / "python"
HOSTS = {"a.test": "127.0.10.1", "fedify.test": "127.0.10.3", "bovine.test": "127.0.10.4"}
PEER_NAMES = ("fedify", "bovine")
PEER_START_TIMEOUT = 60.0
EXCHANGES_IN_REPORT = 40
EXCHANGE_BODY_IN_REPORT = 1500

_live_peers: list[Peer] = []


@pytest.hookimpl(trylast=True)  # after pytest has grouped the items by peer
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    first = True
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(pytest.mark.e2e)
            if first:  # its setup may wait for another run's lock on port 443
                item.add_marker(pytest.mark.timeout(300 + LOCK_TIMEOUT_SECONDS))
                first = False


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """On failure, attach what the peers received, the HTTP exchanges they saw, and all logs."""
    report = yield
    if report.failed and HERE in item.path.parents:
        funcargs = getattr(item, "funcargs", {})
        peer = funcargs.get("peer")
        # The peer under test first; the others only when the failure is not about one peer.
        peers = [peer] if isinstance(peer, Peer) else list(_live_peers)
        for p in peers:
            report.sections.append((f"{p.name} peer: HTTP exchanges", p.dump_exchanges()))
            report.sections.append((f"{p.name} peer: activities received", p.dump_received()))
            report.sections.append((f"{p.name} peer: log", p.log_tail(60)))
        instance = funcargs.get("interop")
        if isinstance(instance, Interop):
            report.sections.append(("server log a.test", instance.ours.log_tail(80)))
    return report


def _missing(problem: str | None) -> str | None:
    if problem is None:
        return None
    return f"{problem} — run `bash scripts/install-interop-deps.sh`"


def _e2e_network_running() -> bool:
    return any(isinstance(getattr(fn, "__self__", None), TLSNetwork) for fn in _cleanups)


def format_exchange(entry: dict[str, Any], body_limit: int = EXCHANGE_BODY_IN_REPORT) -> str:
    """One HTTP exchange as a few readable lines (the peers have already dropped secrets)."""

    def body(text: str | None) -> str:
        text = text or ""
        return text if len(text) <= body_limit else text[:body_limit] + " [...]"

    arrow = "<-" if entry.get("direction") == "in" else "->"
    lines = [
        f"{entry.get('time', '')} {arrow} {entry.get('method')} {entry.get('url')} "
        f"=> {entry.get('status')}",
        f"   request headers: {json.dumps(entry.get('request_headers', {}))}",
    ]
    if entry.get("request_body"):
        lines.append(f"   request body: {body(entry['request_body'])}")
    if entry.get("response_headers"):
        lines.append(f"   response headers: {json.dumps(entry['response_headers'])}")
    if entry.get("response_body"):
        lines.append(f"   response body: {body(entry['response_body'])}")
    return "\n".join(lines)


class Peer:
    """A peer server as a child process (stopped by PID), with a control API on its port.

    ``<-`` exchanges are requests the peer received, ``->`` ones it made.
    """

    name = "peer"
    username = "alice"
    # Whether the actor document shows ``followers`` to other servers (bovine: only to the owner).
    shows_followers_collection = True
    # Whether it refuses unsigned GETs of its actors and objects (bovine answers 401).
    requires_signed_fetch = False

    def __init__(self, *, domain: str, root: Path, tls_bundle: Path, ca_cert: Path) -> None:
        self.domain = domain
        self.base_url = f"https://{domain}"
        self.port = free_port()
        self.root = root
        self.tls_bundle = tls_bundle
        self.ca_cert = ca_cert
        self.log_path = root / f"{self.name}-peer.log"
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._actor: str | None = None
        self.memo: dict[str, Any] = {}  # per-peer results shared by tests (follows made)

    # --- to implement -----------------------------------------------------------------------

    @classmethod
    def missing(cls) -> str | None:
        """Why this peer cannot run here, or None."""
        raise NotImplementedError

    def argv(self) -> tuple[list[str], dict[str, str], Path]:
        raise NotImplementedError

    def followers(self) -> list[str]:
        raise NotImplementedError

    def following(self) -> list[str]:
        """Actors whose Accept of our follow the peer has processed."""
        raise NotImplementedError

    def approve_follow(self, follower: str) -> None:
        """Accept a pending Follow from ``follower`` (no-op for peers that auto-accept)."""
        raise NotImplementedError

    # --- common -----------------------------------------------------------------------------

    def actor_url(self) -> str:
        if self._actor is None:
            self._actor = str(self.state()["actor"])
        return self._actor

    def handle(self) -> str:
        return f"{self.username}@{self.domain}"

    def start(self) -> Peer:
        argv, env, cwd = self.argv()
        self._log = self.log_path.open("ab")
        self._proc = spawn(argv, log=self._log, env=env, cwd=cwd)
        register_cleanup(self.stop)
        _live_peers.append(self)
        deadline = time.monotonic() + PEER_START_TIMEOUT
        while True:
            if self._proc.poll() is not None:
                raise AssertionError(f"{self.name} peer exited early:\n{self.log_tail()}")
            try:
                if httpx.get(self._control_url("state"), timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.name} peer did not start:\n{self.log_tail()}")
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
        response = httpx.post(self._control_url(command), json=payload, timeout=60)
        assert response.status_code == 200, (
            f"{self.name} peer /_control/{command} {payload}: {response.status_code} "
            f"{response.text}\n{self.log_tail()}"
        )
        return response.json()

    def _get(self, command: str) -> Any:
        return httpx.get(self._control_url(command), timeout=10).json()

    def received(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._get("received")
        return result

    def state(self) -> dict[str, Any]:
        result: dict[str, Any] = self._get("state")
        return result

    def exchanges(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._get("exchanges")
        return result

    def dump_received(self) -> str:
        try:
            return json.dumps(self.received(), indent=1)[-20000:]
        except Exception as exc:  # the peer may be gone
            return f"(could not read the peer's received list: {exc!r})"

    def dump_exchanges(self, last: int = EXCHANGES_IN_REPORT) -> str:
        try:
            entries = self.exchanges()[-last:]
        except Exception as exc:  # the peer may be gone
            return f"(could not read the peer's exchanges: {exc!r})"
        head = f"----- {self.name} peer: last {len(entries)} HTTP exchanges (<- in, -> out) -----"
        return "\n".join([head, *(format_exchange(e) for e in entries)])

    def log_tail(self, lines: int = 60) -> str:
        return f"----- {self.name} peer log (last {lines} lines) -----\n" + tail(
            self.log_path, lines
        )


class FedifyPeer(Peer):
    """The Node Fedify server (``fedify-peer/peer.mjs``)."""

    name = "fedify"

    @classmethod
    def missing(cls) -> str | None:
        if shutil.which("node") is None:
            return "node is not installed"
        if not (FEDIFY_DIR / "node_modules" / "@fedify" / "fedify").is_dir():
            return "the Fedify peer's node_modules are missing"
        return None

    def argv(self) -> tuple[list[str], dict[str, str], Path]:
        env = dict(os.environ, NODE_EXTRA_CA_CERTS=str(self.ca_cert), NODE_NO_WARNINGS="1")
        argv = ["node", "peer.mjs", "--port", str(self.port), "--domain", self.domain]
        return argv, env, FEDIFY_DIR

    def followers(self) -> list[str]:
        return [f["id"] for f in self.state()["followers"]]

    def following(self) -> list[str]:
        return [f["actor"] for f in self.state()["following"] if f["state"] == "accepted"]

    def approve_follow(self, follower: str) -> None:
        """The Fedify peer accepts every Follow by itself."""


class BovinePeer(Peer):
    """bovine-herd under hypercorn (``bovine-peer/peer.py``), in ``.cache/bovine-venv``."""

    name = "bovine"
    shows_followers_collection = False
    requires_signed_fetch = True

    @classmethod
    def missing(cls) -> str | None:
        if not BOVINE_PYTHON.exists():
            return f"the bovine peer's virtualenv {BOVINE_PYTHON.parent.parent} is missing"
        return None

    def argv(self) -> tuple[list[str], dict[str, str], Path]:
        env = dict(
            os.environ,
            SSL_CERT_FILE=str(self.tls_bundle),
            REQUESTS_CA_BUNDLE=str(self.tls_bundle),
            PYTHONUNBUFFERED="1",
        )
        env.pop("SSL_CERT_DIR", None)
        env.pop("PYTHONPATH", None)
        workdir = self.root / "bovine-peer"
        argv = [
            str(BOVINE_PYTHON),
            str(BOVINE_DIR / "peer.py"),
            "--port",
            str(self.port),
            "--domain",
            self.domain,
            "--workdir",
            str(workdir),
        ]
        return argv, env, BOVINE_DIR

    def followers(self) -> list[str]:
        return list(self.state()["followers"])

    def following(self) -> list[str]:
        return list(self.state()["following"])

    def approve_follow(self, follower: str) -> None:
        self.control("accept", actor=follower)


PEER_CLASSES: dict[str, type[Peer]] = {"fedify": FedifyPeer, "bovine": BovinePeer}
PEER_DOMAINS = {"fedify": "fedify.test", "bovine": "bovine.test"}


class Interop:
    """Our instance and the peers that could start, on one network."""

    def __init__(self, ours: Instance, peers: dict[str, Peer], missing: dict[str, str]) -> None:
        self.ours = ours
        self.peers = peers
        self.missing = missing
        self.users: set[str] = set()  # local accounts the tests made


@pytest.fixture(scope="module")
def interop_network(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TLSNetwork]:
    require_e2e_environment()
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
    """Our server at https://a.test and each peer whose dependencies are installed."""
    require_cli()
    root = tmp_path_factory.mktemp("interop")
    files = interop_network.files
    ours = Instance(name="Instance A", domain="a.test", root=root, tls=files)
    peers: dict[str, Peer] = {}
    missing: dict[str, str] = {}
    for name, cls in PEER_CLASSES.items():
        problem = _missing(cls.missing())
        if problem is not None:
            missing[name] = problem
            continue
        peers[name] = cls(
            domain=PEER_DOMAINS[name], root=root, tls_bundle=files.bundle, ca_cert=files.ca_cert
        )
    if not peers:
        message = "; ".join(missing.values())
        if os.environ.get("CI"):
            pytest.fail(f"interop tests cannot run under CI: {message}", pytrace=False)
        pytest.skip(message)
    with ExitStack() as cleanup:  # every step runs even when one before it fails
        cleanup.callback(interop_network.set_routes, {})
        for peer in peers.values():
            cleanup.callback(peer.stop)
        cleanup.callback(ours.close)
        routes = {ours.domain: ours.port, **{p.domain: p.port for p in peers.values()}}
        interop_network.set_routes(routes)
        for peer in peers.values():
            peer.start()
        ours.start()
        yield Interop(ours, peers, missing)


@pytest.fixture(scope="module", params=PEER_NAMES)
def peer(request: pytest.FixtureRequest, interop: Interop) -> Peer:
    """Each peer in turn (tests that take it run once per peer)."""
    name: str = request.param
    if name in interop.missing:
        if os.environ.get("CI"):
            pytest.fail(f"{name} peer cannot run under CI: {interop.missing[name]}", pytrace=False)
        pytest.skip(interop.missing[name])
    return interop.peers[name]
