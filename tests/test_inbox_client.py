"""The delivery client against real sockets on 127.0.0.1: a small asyncio server that answers
each request with the raw bytes a test gives it, and counts connections."""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from fediverse_ai.errors import InvalidURL, TransportError, UnsafeURL
from fediverse_ai.inbox_client import MAX_BODY_BYTES, InboxClient, normalise_url
from fediverse_ai.netguard import NetGuard

Answerer = Callable[[int], bytes | None]  # request number -> raw answer (None: close at once)


def ok(extra: str = "") -> bytes:
    return f"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n{extra}\r\n".encode()


@dataclass
class RawServer:
    answer: Answerer
    connections: int = 0
    requests: list[bytes] = field(default_factory=list)
    server: asyncio.Server | None = None
    close_idle_after_answer: bool = False

    @property
    def port(self) -> int:
        assert self.server is not None
        return int(self.server.sockets[0].getsockname()[1])

    def url(self, path: str = "/inbox", scheme: str = "http") -> str:
        return f"{scheme}://127.0.0.1:{self.port}{path}"

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    int(line.split(b":", 1)[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                )
                body = await reader.readexactly(length)
                self.requests.append(head + body)
                raw = self.answer(len(self.requests))
                if raw is None:
                    break
                writer.write(raw)
                await writer.drain()
                if self.close_idle_after_answer or b"connection: close" in raw.lower():
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


async def _serve(answer: Answerer, tls: ssl.SSLContext | None = None) -> RawServer:
    raw = RawServer(answer)
    raw.server = await asyncio.start_server(raw.handle, "127.0.0.1", 0, ssl=tls)
    return raw


@pytest.fixture
async def serve() -> AsyncIterator[Serve]:
    started: list[RawServer] = []

    async def start(answer: Answerer, tls: ssl.SSLContext | None = None) -> RawServer:
        raw = await _serve(answer, tls)
        started.append(raw)
        return raw

    yield start
    for raw in started:
        assert raw.server is not None
        raw.server.close()
        await raw.server.wait_closed()


Serve = Callable[..., Awaitable[RawServer]]


async def _no_dns(host: str, port: int) -> list[str]:
    raise OSError("tests do not resolve names")


LOCAL = NetGuard(allow_private=True, resolver=_no_dns)


@pytest.fixture
async def client() -> AsyncIterator[InboxClient]:
    c = InboxClient(lambda: LOCAL, user_agent="fediverse-ai-test")
    yield c
    await c.aclose()


HEADERS = {"Content-Type": "application/activity+json", "Signature": 'keyId="k"'}


async def test_keep_alive_reuses_one_connection(serve: Serve, client: InboxClient) -> None:
    server = await serve(lambda n: ok())
    for i in range(5):
        answer = await client.post(server.url(f"/users/u{i}/inbox?x=1"), HEADERS, b'{"n":%d}' % i)
        assert answer.status == 202
    assert server.connections == 1
    first = server.requests[0]
    assert first.startswith(b"POST /users/u0/inbox?x=1 HTTP/1.1\r\n")
    assert f"Host: 127.0.0.1:{server.port}\r\n".encode() in first
    assert b"User-Agent: fediverse-ai-test\r\n" in first
    assert b'Signature: keyId="k"\r\n' in first
    assert first.endswith(b"Content-Length: 7\r\n\r\n" + b'{"n":0}')


async def test_connection_close_answer_is_not_reused(serve: Serve, client: InboxClient) -> None:
    server = await serve(lambda n: ok("Connection: close\r\n"))
    for _ in range(3):
        assert (await client.post(server.url(), HEADERS, b"{}")).status == 202
    assert server.connections == 3


async def test_idle_connection_closed_by_the_peer_is_replaced(
    serve: Serve, client: InboxClient
) -> None:
    server = await serve(lambda n: ok())
    server.close_idle_after_answer = True  # closes without saying so, as idle timeouts do
    for _ in range(3):
        assert (await client.post(server.url(), HEADERS, b"{}")).status == 202
        await asyncio.sleep(0.05)
    assert server.connections == 3
    assert len(server.requests) == 3  # each POST reached the server exactly once


async def test_reused_connection_dropped_mid_request_is_retried_once(
    serve: Serve, client: InboxClient
) -> None:
    # The second request arrives on the kept-alive line and the server drops it unanswered
    # (an idle timeout racing our write): the client sends it once more on a new connection.
    server = await serve(lambda n: None if n == 2 else ok())
    assert (await client.post(server.url(), HEADERS, b"{}")).status == 202
    assert (await client.post(server.url(), HEADERS, b"{}")).status == 202
    assert server.connections == 2
    assert len(server.requests) == 3


async def test_fresh_connection_dropped_is_an_error(serve: Serve, client: InboxClient) -> None:
    server = await serve(lambda n: None)
    with pytest.raises(TransportError, match="connection closed"):
        await client.post(server.url(), HEADERS, b"{}")
    assert len(server.requests) == 1


async def test_chunked_error_body_is_kept_in_part(serve: Serve, client: InboxClient) -> None:
    chunk = b"x" * 3000
    body = b"%x\r\n%s\r\n" % (len(chunk), chunk) * 3 + b"0\r\n\r\n"
    head = b"HTTP/1.1 500 Oops\r\nTransfer-Encoding: chunked\r\nRetry-After: 30\r\n\r\n"
    server = await serve(lambda n: head + body)
    answer = await client.post(server.url(), HEADERS, b"{}")
    assert (answer.status, answer.headers["retry-after"]) == (500, "30")
    assert answer.body_head == b"x" * 4096
    assert (await client.post(server.url(), HEADERS, b"{}")).status == 500
    assert server.connections == 1  # the whole chunked body was read: the line stays usable


async def test_huge_answer_body_is_cut_and_the_line_closed(
    serve: Serve, client: InboxClient
) -> None:
    size = MAX_BODY_BYTES * 3
    head = b"HTTP/1.1 400 Bad\r\nContent-Length: %d\r\n\r\n" % size
    server = await serve(lambda n: head + b"y" * size)
    answer = await client.post(server.url(), HEADERS, b"{}")
    assert answer.status == 400
    assert len(answer.body_head) == 4096
    await client.post(server.url(), HEADERS, b"{}")
    assert server.connections == 2


async def test_body_until_close_without_length(serve: Serve, client: InboxClient) -> None:
    server = await serve(lambda n: b"HTTP/1.1 403 Forbidden\r\nConnection: close\r\n\r\nnope")
    answer = await client.post(server.url(), HEADERS, b"{}")
    assert (answer.status, answer.body_head) == (403, b"nope")


async def test_interim_100_continue_is_skipped(serve: Serve, client: InboxClient) -> None:
    server = await serve(lambda n: b"HTTP/1.1 100 Continue\r\n\r\n" + ok())
    assert (await client.post(server.url(), HEADERS, b"{}")).status == 202


@pytest.mark.parametrize(
    "raw",
    [
        b"SSH-2.0-OpenSSH_9.2\r\n\r\n",
        b"HTTP/1.1 200 OK\r\n" + b"X-Big: " + b"a" * 70_000 + b"\r\n\r\n",
        b"HTTP/1.1 2000 What\r\nContent-Length: 0\r\n\r\n",
    ],
    ids=["not-http", "huge-head", "bad-status"],
)
async def test_garbage_answers_are_protocol_errors(
    serve: Serve, client: InboxClient, raw: bytes
) -> None:
    server = await serve(lambda n: raw)
    with pytest.raises(TransportError, match="protocol error"):
        await client.post(server.url(), HEADERS, b"{}")


async def test_cancelled_exchange_closes_the_line(serve: Serve, client: InboxClient) -> None:
    server = await serve(lambda n: ok() if n > 1 else b"")  # the first gets no answer at all
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.2):
            await client.post(server.url(), HEADERS, b"{}")
    assert (await client.post(server.url(), HEADERS, b"{}")).status == 202
    assert server.connections == 2


async def test_connection_refused(client: InboxClient) -> None:
    server = await _serve(lambda n: ok())
    assert server.server is not None
    port = server.port
    server.server.close()
    await server.server.wait_closed()
    with pytest.raises(TransportError, match="could not connect"):
        await client.post(f"http://127.0.0.1:{port}/inbox", HEADERS, b"{}")


async def test_guard_checks_the_address_at_connect_time(serve: Serve) -> None:
    server = await serve(lambda n: ok())

    async def resolves_to_loopback(host: str, port: int) -> list[str]:
        return ["127.0.0.1"]

    strict = InboxClient(lambda: NetGuard(resolver=resolves_to_loopback), user_agent="t")
    try:
        with pytest.raises(UnsafeURL):
            await strict.post(f"http://inbox.example:{server.port}/inbox", HEADERS, b"{}")
        with pytest.raises(UnsafeURL):
            await strict.post(server.url(), HEADERS, b"{}")
    finally:
        await strict.aclose()
    assert server.connections == 0


@pytest.mark.parametrize(
    ("url", "headers"),
    [
        ("ftp://127.0.0.1/inbox", HEADERS),
        ("http:///inbox", HEADERS),
        ("http://127.0.0.1:99999/inbox", HEADERS),
        ("http://127.0.0.1/inbox", {"X-Evil": "a\r\nInjected: yes"}),
        ("http://127.0.0.1/inbox", {"Bad:Name": "x"}),
    ],
)
async def test_invalid_requests_are_refused_before_connecting(
    client: InboxClient, url: str, headers: dict[str, str]
) -> None:
    with pytest.raises(InvalidURL):
        await client.post(url, headers, b"{}")


def test_normalise_url_keeps_ascii_and_encodes_the_rest() -> None:
    plain = "https://example.com/users/a/inbox?x=1"
    assert normalise_url(plain) is plain
    assert normalise_url("https://bücher.example/ü ser/inbox") == (
        "https://xn--bcher-kva.example/%C3%BC%20ser/inbox"
    )


# --- TLS -------------------------------------------------------------------------------------


def _certificate(tmp: Path, name: str) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName(name), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp / "cert.pem", tmp / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


async def test_tls_is_verified(serve: Serve, tmp_path: Path) -> None:
    cert, key = _certificate(tmp_path, "inbox.test")
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, key)
    server = await serve(lambda n: ok(), server_tls)

    trusting = InboxClient(
        lambda: LOCAL, user_agent="t", ssl_context=ssl.create_default_context(cafile=cert)
    )
    untrusting = InboxClient(
        lambda: LOCAL, user_agent="t", ssl_context=ssl.create_default_context()
    )
    try:
        url = f"https://127.0.0.1:{server.port}/inbox"  # the certificate names this address
        assert (await trusting.post(url, HEADERS, b"{}")).status == 202
        assert (await trusting.post(url, HEADERS, b"{}")).status == 202
        with pytest.raises(TransportError, match="TLS handshake failed"):
            await untrusting.post(url, HEADERS, b"{}")
    finally:
        await trusting.aclose()
        await untrusting.aclose()
    assert len(server.requests) == 2
    assert server.requests[0].startswith(b"POST /inbox HTTP/1.1\r\n")


async def test_idle_connections_are_swept_and_capped(
    serve: Serve, client: InboxClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    import fediverse_ai.inbox_client as module

    one = await serve(lambda n: ok())
    two = await serve(lambda n: ok())
    monkeypatch.setattr(module, "IDLE_TOTAL", 1)
    await client.post(one.url(), HEADERS, b"{}")
    await client.post(two.url(), HEADERS, b"{}")
    assert client.idle_connections == 1  # the cap: the second line was closed, not kept
    monkeypatch.setattr(module, "IDLE_SECONDS", 0.05)
    await asyncio.sleep(0.1)
    monkeypatch.setattr(module, "IDLE_TOTAL", 10)
    await client.post(two.url(), HEADERS, b"{}")  # the sweep closes the stale line to `one`
    assert client.idle_connections == 1
    await client.post(one.url(), HEADERS, b"{}")
    assert one.connections == 2  # a new line: the old one was swept
