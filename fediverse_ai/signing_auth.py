"""Sign every outgoing request in one place: an ``httpx.Auth`` on the shared client.

Putting the signature in an auth flow (as microblog.pub does) means no call site
can forget it, and httpx hands us the final method, URL, headers and body after
redirects and encoding, which are exactly the bytes the peer will verify. Deliveries,
which go through the leaner :mod:`fediverse_ai.inbox_client`, ask the same object for
the headers (:meth:`SignatureAuth.headers_for`) of the URL as it goes on the wire.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Mapping
from datetime import datetime
from typing import Protocol

import httpx

from fediverse_ai.httpsig import sign_request
from fediverse_ai.httpsig_common import load_private_key

__all__ = ["SignatureAuth", "Signer"]


class Signer(Protocol):
    def headers_for(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes | None
    ) -> dict[str, str]: ...


class SignatureAuth(httpx.Auth):
    """draft-cavage ``rsa-sha256`` signatures for GETs and POSTs of one actor's key.

    ``clock`` is injected so that tests can pin the ``Date`` header.
    """

    requires_request_body = True  # the Digest covers the body, so httpx must read it first

    def __init__(self, key_id: str, private_key_pem: str, clock: Callable[[], datetime]) -> None:
        # Parse now: a bad key fails at startup rather than on the first delivery, and
        # the parsed key stays in httpsig's cache (loading PEM per request is slow).
        self._private_key = load_private_key(private_key_pem)
        self._key_id = key_id
        self._private_key_pem = private_key_pem
        self._clock = clock

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        """Add Host, Date, Digest (with a body) and Signature, then send the request."""
        added = self.headers_for(
            request.method, str(request.url), request.headers, request.content or None
        )
        for name, value in added.items():
            request.headers[name] = value
        yield request

    def headers_for(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes | None
    ) -> dict[str, str]:
        """The Host, Date, Digest (with a body) and Signature headers for one request."""
        return sign_request(
            method,
            url,
            headers,
            body,
            key_id=self._key_id,
            private_key_pem=self._private_key_pem,
            now=self._clock(),
        )
