"""The e2e harness itself: TLS, host names and nginx routing, with stand-in backends.

Needs no server of ours, so that a harness fault never looks like a federation bug.
"""

from __future__ import annotations

import json
import socket
import ssl
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from .harness import Instance, live_instances, wait_until
from .network import HOSTS_FILE, HOSTS_MARKER, TLSNetwork

pytestmark = pytest.mark.e2e


class EchoBackend(ThreadingHTTPServer):
    """Answers every GET with its own name and the headers nginx sent it."""

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(("127.0.0.1", 0), _EchoHandler)

    @property
    def port(self) -> int:
        return int(self.server_address[1])


class _EchoHandler(BaseHTTPRequestHandler):
    server: EchoBackend

    def do_GET(self) -> None:
        body = json.dumps(
            {"backend": self.server.name, "path": self.path, "headers": dict(self.headers)}
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def echo_backends(tls_network: TLSNetwork) -> Iterator[dict[str, EchoBackend]]:
    backends = {domain: EchoBackend(f"backend for {domain}") for domain in tls_network.hosts}
    threads = [threading.Thread(target=b.serve_forever, daemon=True) for b in backends.values()]
    for thread in threads:
        thread.start()
    try:
        tls_network.set_routes({domain: b.port for domain, b in backends.items()})
        yield backends
    finally:
        for backend in backends.values():
            backend.shutdown()
            backend.server_close()
        for thread in threads:
            thread.join(5)
        tls_network.set_routes({})


def _ca_client(tls_network: TLSNetwork) -> httpx.Client:
    ctx = ssl.create_default_context(cafile=str(tls_network.files.bundle))
    return httpx.Client(verify=ctx, timeout=5.0, trust_env=False)


def test_hosts_resolve_to_their_own_loopback_addresses(tls_network: TLSNetwork) -> None:
    for domain, ip in tls_network.hosts.items():
        assert socket.gethostbyname(domain) == ip
    marked = [ln for ln in HOSTS_FILE.read_text().splitlines() if HOSTS_MARKER in ln]
    assert len(marked) == len(tls_network.hosts)
    assert all(ln.endswith(f"{HOSTS_MARKER} {tls_network.run_id}") for ln in marked)


def test_each_host_reaches_its_backend_with_forwarded_headers(
    tls_network: TLSNetwork, echo_backends: dict[str, EchoBackend]
) -> None:
    with _ca_client(tls_network) as client:
        for domain, backend in echo_backends.items():
            response = client.get(f"https://{domain}/users/ai?x=1")
            assert response.status_code == 200
            got = response.json()
            headers = {k.lower(): v for k, v in got["headers"].items()}
            assert got["backend"] == backend.name
            assert got["path"] == "/users/ai?x=1"
            assert headers["host"] == domain
            assert headers["x-forwarded-proto"] == "https"
            assert headers["x-forwarded-host"] == domain
            assert headers["x-forwarded-for"].startswith("127.")


def test_certificate_verifies_for_every_host_name(tls_network: TLSNetwork) -> None:
    ctx = ssl.create_default_context(cafile=str(tls_network.files.ca_cert))
    for domain, ip in tls_network.hosts.items():
        with (
            socket.create_connection((ip, 443), timeout=5) as raw,
            ctx.wrap_socket(raw, server_hostname=domain) as tls,
        ):
            cert = tls.getpeercert()
            assert cert is not None
            assert ("DNS", domain) in cert["subjectAltName"]


def test_certificate_fails_without_our_ca(
    tls_network: TLSNetwork, echo_backends: dict[str, EchoBackend]
) -> None:
    plain = ssl.create_default_context()  # the system's trust store only
    with httpx.Client(verify=plain, timeout=5.0, trust_env=False) as client:
        for domain in tls_network.hosts:
            with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
                client.get(f"https://{domain}/")


def test_bundle_holds_the_system_cas_and_ours(tls_network: TLSNetwork) -> None:
    bundle = tls_network.files.bundle.read_text()
    assert tls_network.files.ca_cert.read_text().strip() in bundle
    system = Path("/etc/ssl/certs/ca-certificates.crt")
    if system.exists():
        assert bundle.count("BEGIN CERTIFICATE") > 1


def test_unrouted_host_answers_503(tls_network: TLSNetwork) -> None:
    with _ca_client(tls_network) as client:
        for domain in tls_network.hosts:
            assert client.get(f"https://{domain}/").status_code == 503


def test_wait_until_returns_the_value_and_reports_the_last_error() -> None:
    calls = iter([None, 0, "done"])
    assert wait_until(lambda: next(calls), timeout=5, interval=0.01) == "done"

    def broken() -> None:
        raise ValueError("still broken")

    with pytest.raises(AssertionError, match=r"(?s)never fixed.*still broken"):
        wait_until(broken, timeout=0.1, interval=0.01, message="never fixed", instances=[])


def test_instance_lifecycle_with_a_stand_in_server(tls_network: TLSNetwork, tmp_path: Path) -> None:
    stand_in = [sys.executable, str(Path(__file__).with_name("stand_in_server.py"))]
    a = Instance(
        name="Instance A", domain="a.test", root=tmp_path, tls=tls_network.files, command=stand_in
    )
    try:
        tls_network.set_routes({"a.test": a.port})
        assert 'domain = "a.test"' in a.config_path.read_text()
        assert a.cli("echo", "hello").stdout == "hello\n"
        with pytest.raises(AssertionError, match=r"(?s)exited 3.*this goes wrong"):
            a.cli("fail")
        assert a.cli("fail", check=False).returncode == 3

        a.start()
        assert a.running and a in live_instances()
        with a.client() as http:
            headers = http.get("/.well-known/nodeinfo").json()["headers"]
        assert headers["Host"] == "a.test"
        assert headers["X-Forwarded-Proto"] == "https"

        a.restart()
        assert "graceful shutdown on SIGTERM" in a.log_tail()
        assert (a.data_dir / "data" / "init-count").read_text() == "xx"

        a.restart(crash=True)
        assert a.log_tail().count("graceful shutdown on SIGTERM") == 1
        assert a.log_tail().count("serving a.test") == 3
    finally:
        a.close()
        tls_network.set_routes({})
    assert not a.running and a not in live_instances()
