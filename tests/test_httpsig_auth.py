"""SignatureAuth on a real httpx.AsyncClient, talking to a real server on 127.0.0.1.

The server is a raw asyncio HTTP/1.1 handler that records exactly what arrived on
the wire; our verifier must accept it as it is.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from fediverse_ai.errors import SignatureError
from fediverse_ai.httpsig import ResolvedKey, sha256_digest_header, verify_request
from fediverse_ai.signing_auth import SignatureAuth

NOW = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
KEY_ID = "https://example.org/users/ai#main-key"
ACTOR = "https://example.org/users/ai"
BODY = b'{"@context":"https://www.w3.org/ns/activitystreams","type":"Create"}'


@dataclass(frozen=True)
class Captured:
    method: str
    target: str
    headers: list[tuple[str, str]]
    body: bytes


@dataclass
class Server:
    port: int
    requests: list[Captured]

    def url(self, target: str) -> str:
        return f"http://127.0.0.1:{self.port}{target}"


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def private_pem(key: rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL
        if isinstance(key, rsa.RSAPrivateKey)
        else serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def public_pem(key: rsa.RSAPrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    captured: list[Captured] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
        request_line, *lines = head.split("\r\n")
        method, target, _ = request_line.split(" ")
        headers = [(n, v.strip()) for n, _, v in (line.partition(":") for line in lines if line)]
        length = int(next((v for n, v in headers if n.lower() == "content-length"), "0"))
        body = await reader.readexactly(length) if length else b""
        captured.append(Captured(method, target, headers, body))
        writer.write(b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        await writer.drain()
        writer.close()
        await writer.wait_closed()

    listener = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    async with listener:
        yield Server(port, captured)


async def test_signed_post_and_get_verify_on_arrival(
    rsa_key: rsa.RSAPrivateKey, server: Server
) -> None:
    async def fetch_key(key_id: str, refresh: bool) -> ResolvedKey:
        assert key_id == KEY_ID
        return ResolvedKey(KEY_ID, ACTOR, public_pem(rsa_key))

    auth = SignatureAuth(KEY_ID, private_pem(rsa_key), clock=lambda: NOW)
    async with httpx.AsyncClient(auth=auth) as client:
        posted = await client.post(
            server.url("/users/bob/inbox"),
            content=BODY,
            headers={"Content-Type": "application/activity+json"},
        )
        fetched = await client.get(server.url("/users/bob/outbox?page=true&min_id=1"))
    assert (posted.status_code, fetched.status_code) == (202, 202)

    post, get = server.requests
    post_headers = {name.lower(): value for name, value in post.headers}
    assert post_headers["date"] == "Wed, 01 May 2024 12:00:00 GMT"
    assert post_headers["digest"] == sha256_digest_header(BODY)
    assert post_headers["host"] == f"127.0.0.1:{server.port}"
    assert 'headers="(request-target) host date digest content-type"' in post_headers["signature"]
    assert 'headers="(request-target) host date"' in dict(get.headers)["Signature"]

    for captured in (post, get):
        result = await verify_request(
            captured.method,
            server.url(captured.target),
            captured.headers,
            captured.body,
            fetch_key=fetch_key,
            now=NOW,
        )
        assert (result.key_id, result.owner, result.scheme) == (KEY_ID, ACTOR, "draft-cavage")

    with pytest.raises(SignatureError, match="digest mismatch"):
        await verify_request(
            "POST", server.url(post.target), post.headers, BODY + b" ", fetch_key=fetch_key, now=NOW
        )


def test_bad_key_fails_at_construction() -> None:
    with pytest.raises(ValueError):
        SignatureAuth(
            KEY_ID,
            "-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----\n",
            clock=lambda: NOW,
        )


def test_sync_client_flow_signs_too(rsa_key: rsa.RSAPrivateKey) -> None:
    """The auth flow is shared by sync and async clients; MockTransport shows what would go out."""
    seen: list[httpx.Request] = []

    def respond(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(202)

    auth = SignatureAuth(KEY_ID, private_pem(rsa_key), clock=lambda: NOW)
    with httpx.Client(auth=auth, transport=httpx.MockTransport(respond)) as client:
        client.post("https://remote.example/inbox", content=b"")
    (sent,) = seen
    assert sent.headers["digest"] == sha256_digest_header(b"")
    assert sent.headers["host"] == "remote.example"
