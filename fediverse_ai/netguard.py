"""The SSRF guard: decide whether a URL is safe for the server to fetch or POST to.

Every outgoing request this server makes goes to a URL that a remote peer chose (actor
ids, inboxes, key ids, attachments, redirect targets). Without a guard a peer could make
us fetch ``http://169.254.169.254/`` (cloud metadata), ``http://127.0.0.1:6379/`` or an
admin page on the private network and reflect or act on the result. ``NetGuard.check_url``
refuses such URLs before any connection is made.

The URL is parsed with ``httpx.URL``, the same parser the HTTP client uses, so the guard
and the client cannot disagree about which host a URL names.

DNS rebinding: checking a name and then letting the HTTP client resolve it again when it
connects would let a hostile DNS server answer with a public address the first time and a
private one the second. So the shared client connects through :class:`PinnedBackend`, which
resolves the name itself, checks every address, and connects to a checked address: the
address judged is the address used.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

import httpcore
import httpx

from fediverse_ai.errors import UnsafeURL

__all__ = [
    "CANNOT_RESOLVE",
    "NetGuard",
    "PinnedBackend",
    "Resolver",
    "is_blocked_domain",
    "is_public_address",
    "origin_key",
    "pinned_transport",
    "system_resolver",
]

Resolver = Callable[[str, int], Awaitable[list[str]]]
"""``(host, port) -> IP address strings``; injected so tests never touch real DNS."""

CANNOT_RESOLVE = "cannot resolve host"
"""The ``UnsafeURL`` message for a name that did not resolve; callers may retry it later."""

_ALLOWED_SCHEMES = {"http": 80, "https": 443}

# Anything that glibc's inet_aton would read as an IPv4 address: 1 to 4 parts, each
# decimal, octal (leading 0) or hex (0x). getaddrinfo accepts these forms too, so
# "http://2130706433/" or "http://0x7f.1/" would reach 127.0.0.1.
_IPV4_LIKE = re.compile(r"(?:0x[0-9a-f]*|[0-9]+)(?:\.(?:0x[0-9a-f]*|[0-9]+)){0,3}", re.IGNORECASE)
_HOSTNAME = re.compile(r"[a-z0-9_-]+(?:\.[a-z0-9_-]+)*", re.IGNORECASE)

_CGNAT = ipaddress.IPv4Network("100.64.0.0/10")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


async def system_resolver(host: str, port: int) -> list[str]:
    """Resolve ``host`` with the operating system (both IPv4 and IPv6), as httpx will."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


def is_blocked_domain(host: str, blocked: frozenset[str]) -> bool:
    """True when ``host`` is a blocked domain or a subdomain of one.

    Matching is on whole labels (``notbad.example`` is not blocked by ``bad.example``),
    case-insensitive and tolerant of a trailing dot, because all of those spell the same
    name in DNS and a block must not be dodged by respelling it.
    """
    name = _normalise_domain(host)
    if not name:
        return False
    for entry in blocked:
        domain = _normalise_domain(entry)
        if domain and (name == domain or name.endswith("." + domain)):
            return True
    return False


def _normalise_domain(name: str) -> str:
    name = name.strip().rstrip(".").lower()
    if name.isascii():
        return name
    try:
        return name.encode("idna").decode("ascii")
    except UnicodeError:
        return name


@dataclass(frozen=True)
class NetGuard:
    """Policy for outgoing requests.

    ``allow_private`` is for local test networks only: it lets loopback and private
    addresses through (and skips DNS, since every address would pass). Blocked domains
    are refused regardless, because blocking is a moderation decision, not a network one.

    ``trusted_origins`` (``host:port``, lower case) are reachable wherever they resolve: the
    operator's own AI backends, which often run on the same machine or LAN. Only URLs the
    operator configured belong there, never one a peer could name, and the guard holding
    them is used for those backends alone (``bot.services``): federation keeps refusing
    private addresses, so a peer cannot reach the backends, or anything beside them, through
    a key id, a redirect or an inbox.
    """

    allow_private: bool = False
    blocked_domains: frozenset[str] = frozenset()
    resolver: Resolver = system_resolver
    trusted_origins: frozenset[str] = frozenset()

    async def check_url(self, url: str) -> None:
        """Return if ``url`` may be requested; raise ``UnsafeURL`` with a safe reason if not.

        Reasons never include resolved addresses, so the message can be shown to the
        peer that supplied the URL without revealing our internal DNS.
        """
        try:
            parsed = httpx.URL(url)
        except (httpx.InvalidURL, TypeError, ValueError):
            raise UnsafeURL("invalid URL") from None
        default_port = _ALLOWED_SCHEMES.get(parsed.scheme)
        if default_port is None:
            raise UnsafeURL("only http and https URLs are allowed")
        host = parsed.raw_host.decode("ascii").lower()
        if not host:
            raise UnsafeURL("URL has no host")
        if parsed.userinfo:
            raise UnsafeURL("URL must not contain credentials")
        port = parsed.port if parsed.port is not None else default_port
        if not 0 < port < 65536:
            raise UnsafeURL("invalid port")
        if is_blocked_domain(host, self.blocked_domains):
            raise UnsafeURL("domain is blocked")
        if f"{host}:{port}" in self.trusted_origins:
            return

        literal = _parse_ip_literal(host)
        if literal is not None:
            if not self.allow_private and not is_public_address(literal):
                raise UnsafeURL("address is not public")
            return
        if not _HOSTNAME.fullmatch(host.rstrip(".")):
            raise UnsafeURL("invalid host")
        if self.allow_private:
            return
        await self._check_resolved(host, port)

    async def _check_resolved(self, host: str, port: int) -> list[str]:
        try:
            addresses = await self.resolver(host, port)
        except (OSError, UnicodeError):
            raise UnsafeURL(CANNOT_RESOLVE) from None
        if not addresses:
            raise UnsafeURL(CANNOT_RESOLVE)
        # Every address must be public: one bad answer marks the whole name as hostile.
        for text in addresses:
            try:
                address = ipaddress.ip_address(text)
            except ValueError:
                raise UnsafeURL("host resolves to an invalid address") from None
            if not is_public_address(address):
                raise UnsafeURL("host resolves to a non-public address")
        return addresses

    async def connect_address(self, host: str, port: int) -> str:
        """The address to open a connection to for ``host``, resolved and checked now.

        Called at connect time by :class:`PinnedBackend`, so that no second resolution
        happens between the check and the connection.
        """
        if f"{host.strip('[]').lower()}:{port}" in self.trusted_origins:
            return host
        literal = _parse_ip_literal(host.strip("[]"))
        if literal is not None:
            if not self.allow_private and not is_public_address(literal):
                raise UnsafeURL("address is not public")
            return host
        if self.allow_private:
            return host
        return (await self._check_resolved(host, port))[0]


class PinnedBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend with every TCP connection checked by the guard.

    ``guard`` is a callable because the guard is replaced when the admin blocks a domain.
    """

    def __init__(self, guard: Callable[[], NetGuard]) -> None:
        self._guard = guard
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        address = await self._guard().connect_address(host, port)
        return await self._inner.connect_tcp(
            address,
            port,
            timeout=timeout,
            local_address=local_address,
            socket_options=socket_options,
        )

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise UnsafeURL("unix sockets are not allowed")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def pinned_transport(
    guard: Callable[[], NetGuard], *, limits: httpx.Limits
) -> httpx.AsyncHTTPTransport:
    """An httpx transport whose connections go through :class:`PinnedBackend`."""
    transport = httpx.AsyncHTTPTransport(limits=limits)
    pool = transport._pool
    # httpx builds its httpcore pool without a way to pass a network backend; swap it in.
    if not hasattr(pool, "_network_backend"):
        raise RuntimeError("this httpcore version has no pluggable network backend")
    pool._network_backend = PinnedBackend(guard)
    return transport


def origin_key(url: str) -> str | None:
    """``host:port`` of ``url`` as :attr:`NetGuard.trusted_origins` holds it, or None."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError):
        return None
    default_port = _ALLOWED_SCHEMES.get(parsed.scheme)
    host = parsed.raw_host.decode("ascii").lower()
    if default_port is None or not host:
        return None
    return f"{host}:{parsed.port if parsed.port is not None else default_port}"


def _parse_ip_literal(host: str) -> IPAddress | None:
    """The address ``host`` spells as an IP literal, or None when it is a name.

    Raises ``UnsafeURL`` for things that look numeric but are not valid addresses
    (``1.2.3.4.5``, ``999.1.1.1``): resolvers treat them inconsistently, so refuse.
    """
    if ":" in host:
        try:
            return ipaddress.IPv6Address(host.replace("%25", "%", 1))
        except ValueError:
            raise UnsafeURL("invalid IP address") from None
    candidate = host.rstrip(".")
    if not _IPV4_LIKE.fullmatch(candidate):
        return None
    try:
        packed = socket.inet_aton(candidate)
    except OSError:
        raise UnsafeURL("invalid IP address") from None
    return ipaddress.IPv4Address(packed)


def is_public_address(address: IPAddress) -> bool:
    """True when ``address`` is globally routable unicast, including what it embeds.

    IPv4-mapped (``::ffff:a.b.c.d``) and NAT64 (``64:ff9b::/96``, what DNS64 answers on
    IPv6-only hosts) addresses reach the IPv4 address they carry, so they are judged by
    it alone. 6to4 (``2002::/16``) and Teredo addresses must pass on their own and by the
    IPv4 address they embed, since a relay may deliver to it.
    """
    if isinstance(address, ipaddress.IPv6Address):
        translated = address.ipv4_mapped
        if translated is None and address in _NAT64:
            translated = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if translated is not None:
            return is_public_address(translated)
        embedded = address.sixtofour
        if embedded is None and address.teredo is not None:
            embedded = address.teredo[1]
        if embedded is not None and not is_public_address(embedded):
            return False
        if address.is_site_local:
            return False
    elif address in _CGNAT:
        return False
    return address.is_global and not (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
    )
