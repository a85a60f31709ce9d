"""What the stand-in servers of the tests share: a loopback port kept across restarts, and the
key fetch of a strict peer."""

from __future__ import annotations

import ssl
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import httpx

from fediverse_ai.errors import SignatureError
from fediverse_ai.httpsig import ResolvedKey

from .live import bind_loopback, serve_asgi

AS2_TYPE = "application/activity+json"


class RestartableServer:
    """An ASGI app (the subclass, callable) served by uvicorn on ``host:port``, with an HTTP
    client for its own requests that trusts ``ca_bundle``. ``stop()`` then ``start()`` comes back
    on the same port, as a peer's outage looks from outside."""

    host = "127.0.0.1"

    def __init__(self, *, ca_bundle: Path | None = None) -> None:
        self.ca_bundle = ca_bundle
        self.port: int | None = None
        self._stack: AsyncExitStack | None = None
        self._client: httpx.AsyncClient | None = None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        raise NotImplementedError

    @property
    def running(self) -> bool:
        return self._stack is not None

    async def start(self) -> None:
        """Listen (again) on our port: the first start picks a free one."""
        if self._stack is not None:
            raise RuntimeError(f"{type(self).__name__} already running")
        sock = bind_loopback(self.port or 0, self.host)
        self.port = sock.getsockname()[1]
        stack = AsyncExitStack()
        try:
            verify: ssl.SSLContext | bool = True
            if self.ca_bundle is not None:
                verify = ssl.create_default_context(cafile=str(self.ca_bundle))
            self._client = await stack.enter_async_context(
                httpx.AsyncClient(timeout=10.0, verify=verify, trust_env=False)
            )
            await stack.enter_async_context(serve_asgi(self, sock, lifespan="off"))
        except BaseException:
            await stack.aclose()
            raise
        self._stack = stack

    async def stop(self) -> None:
        """Stop listening: connections to the port are refused until ``start()``."""
        stack, self._stack = self._stack, None
        if stack is not None:
            await stack.aclose()
        self._client = None


async def read_body(receive: Any) -> bytes:
    """The whole body of an ASGI HTTP request."""
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


def is_loopback_test_host(host: str) -> bool:
    """127.x addresses, and the e2e harness's ``*.test`` names (its /etc/hosts lines point
    them at loopback addresses)."""
    return host.startswith("127.") or host.endswith(".test")


async def fetch_actor_key(client: httpx.AsyncClient | None, key_id: str) -> ResolvedKey:
    """Fetch the signer's actor from its server (ours) and take its key, as a strict peer does."""
    actor_url = key_id.split("#", 1)[0]
    if client is None or not is_loopback_test_host(httpx.URL(actor_url).host):
        raise SignatureError("refusing to fetch a key outside loopback")
    response = await client.get(actor_url, headers={"Accept": AS2_TYPE})
    if response.status_code != 200:
        raise SignatureError(f"key fetch answered HTTP {response.status_code}")
    if not response.headers.get("content-type", "").startswith(AS2_TYPE):
        raise SignatureError("key fetch answered a non-ActivityPub document")
    doc = response.json()
    key = doc.get("publicKey") if isinstance(doc, dict) else None
    if not isinstance(key, dict) or doc.get("id") != actor_url:
        raise SignatureError("key document does not match its URL")
    if key.get("id") != key_id or key.get("owner") != actor_url:
        raise SignatureError("actor does not list this key")
    return ResolvedKey(key_id=key_id, owner=actor_url, public_key_pem=key["publicKeyPem"])
