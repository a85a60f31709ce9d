"""A lean keep-alive HTTP/1.1 client for the hot path of federation: POSTs to inboxes.

A post to 10,000 followers is 10,000 signed POSTs. Through httpx each cost about 0.45 ms of
CPU before signing (cookie jar, auth flow, URL and header models, anyio), more than the RSA
signature itself (BENCHMARKS.md); this client costs a fraction of that. It does only what a
delivery needs: one POST with a body, HTTP/1.1 over TCP or TLS, connections kept alive per
origin; no redirects (a signed POST must not be replayed elsewhere), no cookies, no proxies,
no compression. The answer is the status, the headers and the first bytes of the body.

Like httpx's :class:`~fediverse_ai.netguard.PinnedBackend`, every new connection goes to an
address the guard resolved and checked at that moment. The server's answer is parsed by
httptools (llhttp) with caps on the header block and on how much body is read.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import cast
from urllib.parse import urlsplit

import httptools
import httpx

from .errors import InvalidURL, TransportError
from .netguard import NetGuard

__all__ = ["Answer", "InboxClient", "normalise_url"]

MAX_HEAD_BYTES = 64 * 1024
MAX_BODY_BYTES = 1024 * 1024  # of an answer, read and dropped; a longer one closes the line
KEEP_BODY_BYTES = 4096  # the start of the body, for error messages
IDLE_SECONDS = 30.0  # servers close idle keep-alive connections after 5-75 s
IDLE_PER_ORIGIN = 16
IDLE_TOTAL = 512  # open sockets kept for reuse across all origins
_DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]  # lower-case names; a repeated header keeps its last value
    body_head: bytes


@dataclass(frozen=True)
class _Target:
    scheme: str
    host: str  # ASCII (IDNA), no brackets around an IPv6 literal
    port: int
    authority: str
    path: str

    @property
    def origin(self) -> tuple[str, str, int]:
        return (self.scheme, self.host, self.port)


def normalise_url(url: str) -> str:
    """The URL as it goes on the wire (IDNA host, percent-encoded path), so that what is
    signed is what is sent. Plain ASCII URLs, nearly all of them, are returned as they are."""
    if url.isascii() and url.isprintable() and " " not in url:
        return url
    try:
        return str(httpx.URL(url))
    except httpx.InvalidURL:
        raise InvalidURL() from None


def _target(url: str) -> _Target:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise InvalidURL() from None
    scheme = parts.scheme.lower()
    host = parts.hostname
    if scheme not in _DEFAULT_PORTS or not host or not url.isascii():
        raise InvalidURL()
    port = port or _DEFAULT_PORTS[scheme]
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    if any(ch in path for ch in " \r\n\t") or not path.startswith("/"):
        raise InvalidURL()
    shown = f"[{host}]" if ":" in host else host
    authority = shown if port == _DEFAULT_PORTS[scheme] else f"{shown}:{port}"
    return _Target(scheme, host, port, authority, path)


class _Connection(asyncio.Protocol):
    """One keep-alive connection; one request at a time."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.idle_since = time.monotonic()
        self._waiter: asyncio.Future[Answer] | None = None
        self._parser: httptools.HttpResponseParser | None = None
        self._received = 0
        self._status: int | None = None
        self._headers: dict[str, str] = {}
        self._head_bytes = 0
        self._body = bytearray()
        self._body_bytes = 0
        self.reusable = False

    # --- asyncio.Protocol ---

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses but have the same methods.
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        if self._parser is None:  # nothing was asked: the peer is not speaking HTTP to us
            self.close()
            return
        self._received += len(data)
        try:
            self._parser.feed_data(data)
        except (httptools.HttpParserError, httptools.HttpParserUpgrade):
            self._fail("protocol error")
        if self._status is None and self._received > MAX_HEAD_BYTES:
            self._fail("protocol error")  # a status line or header that never ends

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self._waiter is not None and not self._waiter.done():
            if self._status is not None:  # a body delimited by the end of the connection
                self._finish(reusable=False)
            else:
                reason = "connection closed" if self._received == 0 else "protocol error"
                self._waiter.set_exception(TransportError(reason))

    # --- httptools callbacks ---

    def on_header(self, name: bytes, value: bytes) -> None:
        self._head_bytes += len(name) + len(value) + 4
        if self._head_bytes > MAX_HEAD_BYTES:
            self._fail("protocol error")
            return
        self._headers[name.decode("latin-1").lower()] = value.decode("latin-1")

    def on_headers_complete(self) -> None:
        assert self._parser is not None
        self._status = self._parser.get_status_code()

    def on_body(self, body: bytes) -> None:
        room = KEEP_BODY_BYTES - len(self._body)
        if room > 0:
            self._body.extend(body[:room])
        self._body_bytes += len(body)
        if self._body_bytes > MAX_BODY_BYTES:
            self._finish(reusable=False)
            self.close()

    def on_message_complete(self) -> None:
        if self._status is not None and 100 <= self._status < 200:
            self._reset_message()  # an interim answer: the real one follows
            return
        assert self._parser is not None
        self._finish(reusable=self._parser.should_keep_alive())

    # --- use ---

    async def request(self, data: bytes) -> Answer:
        assert self.transport is not None
        loop = asyncio.get_running_loop()
        self._waiter = loop.create_future()
        self._parser = httptools.HttpResponseParser(self)
        self._received = 0
        self._reset_message()
        self.transport.write(data)
        try:
            return await self._waiter
        finally:
            self._waiter = None
            self._parser = None

    def got_bytes(self) -> bool:
        return self._received > 0

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.abort()

    def _reset_message(self) -> None:
        self._status = None
        self._headers = {}
        self._head_bytes = 0
        self._body = bytearray()
        self._body_bytes = 0
        self.reusable = False

    def _finish(self, *, reusable: bool) -> None:
        if self._waiter is None or self._waiter.done() or self._status is None:
            return
        self.reusable = reusable and not self.closed
        self._waiter.set_result(Answer(self._status, self._headers, bytes(self._body)))

    def _fail(self, reason: str) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(TransportError(reason))
        self.close()


class InboxClient:
    """Pooled POSTs. ``guard`` is a callable because the admin's domain blocks replace it."""

    def __init__(
        self,
        guard: Callable[[], NetGuard],
        *,
        user_agent: str,
        ssl_context: ssl.SSLContext | None = None,
        connect_timeout: float = 5.0,
    ) -> None:
        self._guard = guard
        self._user_agent = user_agent
        # httpx's context: the same trust (SSL_CERT_FILE / SSL_CERT_DIR, else certifi) as fetches.
        self._ssl = ssl_context or httpx.create_ssl_context()
        self._connect_timeout = connect_timeout
        self._idle: dict[tuple[str, str, int], deque[_Connection]] = {}
        self._idle_count = 0
        self._swept_at = time.monotonic()

    async def post(self, url: str, headers: Mapping[str, str], body: bytes) -> Answer:
        """POST ``body`` with ``headers`` (Host is added unless given); raises
        :class:`TransportError` (or :class:`~fediverse_ai.errors.UnsafeURL` from the guard)."""
        target = _target(url)
        data = self._encode(target, headers, body)
        conn = self._checkout(target)
        if conn is not None:
            try:
                return await self._exchange(target, conn, data)
            except TransportError:
                if conn.got_bytes():
                    raise
                # The peer closed the idle connection as we reused it: once more on a new one.
        return await self._exchange(target, await self._connect(target), data)

    async def aclose(self) -> None:
        for idle in self._idle.values():
            while idle:
                idle.pop().close()
        self._idle.clear()
        self._idle_count = 0

    @property
    def idle_connections(self) -> int:
        return self._idle_count

    def _encode(self, target: _Target, headers: Mapping[str, str], body: bytes) -> bytes:
        lines = [f"POST {target.path} HTTP/1.1"]
        given = {name.lower() for name in headers}
        if "host" not in given:
            lines.append(f"Host: {target.authority}")
        if "user-agent" not in given:
            lines.append(f"User-Agent: {self._user_agent}")
        for name, value in headers.items():
            if name.lower() == "content-length":
                continue
            if any(ch in name or ch in value for ch in "\r\n\0") or ":" in name:
                raise InvalidURL("invalid header")
            lines.append(f"{name}: {value}")
        lines.append(f"Content-Length: {len(body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body

    async def _exchange(self, target: _Target, conn: _Connection, data: bytes) -> Answer:
        try:
            answer = await conn.request(data)
        except BaseException:
            conn.close()  # a cancelled or failed exchange leaves the line in an unknown state
            raise
        if conn.reusable and not conn.closed:
            conn.idle_since = time.monotonic()
            self._sweep(conn.idle_since)
            idle = self._idle.setdefault(target.origin, deque())
            if len(idle) < IDLE_PER_ORIGIN and self._idle_count < IDLE_TOTAL:
                idle.append(conn)
                self._idle_count += 1
                return answer
        conn.close()
        return answer

    def _checkout(self, target: _Target) -> _Connection | None:
        idle = self._idle.get(target.origin)
        now = time.monotonic()
        while idle:
            conn = idle.pop()
            self._idle_count -= 1
            if not conn.closed and now - conn.idle_since < IDLE_SECONDS:
                return conn
            conn.close()
        return None

    def _sweep(self, now: float) -> None:
        """Close connections idle too long, at most once per idle period: a fan-out leaves
        sockets to thousands of origins that may not be used again for hours."""
        if now - self._swept_at < IDLE_SECONDS:
            return
        self._swept_at = now
        for origin in list(self._idle):
            idle = self._idle[origin]
            fresh = deque(c for c in idle if not c.closed and now - c.idle_since < IDLE_SECONDS)
            for conn in idle:
                if conn not in fresh:
                    conn.close()
            self._idle_count -= len(idle) - len(fresh)
            if fresh:
                self._idle[origin] = fresh
            else:
                del self._idle[origin]

    async def _connect(self, target: _Target) -> _Connection:
        address = await self._guard().connect_address(target.host, target.port)
        loop = asyncio.get_running_loop()
        tls = target.scheme == "https"
        try:
            async with asyncio.timeout(self._connect_timeout):
                _, conn = await loop.create_connection(
                    _Connection,
                    address.strip("[]"),
                    target.port,
                    ssl=self._ssl if tls else None,
                    server_hostname=target.host if tls else None,
                )
        except TimeoutError:
            raise TransportError("connect timed out") from None
        except ssl.SSLError:
            raise TransportError("TLS handshake failed") from None
        except OSError:
            raise TransportError("could not connect") from None
        return conn
