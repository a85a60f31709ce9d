"""Guarded HTTP: fetch remote ActivityPub documents and POST activities to inboxes.

Fetches go over the one shared ``httpx.AsyncClient`` (created with
``follow_redirects=False``; signing comes in as an ``httpx.Auth`` per request); deliveries,
the hot path of fan-out, over the leaner :class:`~fediverse_ai.inbox_client.InboxClient`
with the same signer and guard. This module adds what the clients do not do by themselves:

* the SSRF guard on the first URL *and* on every redirect hop, which is why redirects
  are followed by hand rather than by httpx;
* a body cap enforced while streaming, so a peer cannot make us buffer gigabytes;
* one deadline over the whole exchange, redirects included;
* origin validation of fetched documents: an ActivityPub document is never taken from a
  redirect to another origin, and its ``id`` must be the URL asked for (CVE-2024-23832), so a
  peer can neither serve nor redirect to a document that speaks for someone else's id;
* error messages that are safe to show or store (no response bodies in fetch errors,
  no internal addresses).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from fediverse_ai import safe_json
from fediverse_ai.errors import (
    BadRequest,
    DeliveryError,
    FetchError,
    InvalidURL,
    TransportError,
    UnsafeURL,
)
from fediverse_ai.http_body import (
    ERROR_SNIPPET_BYTES,
    network_reason,
    one_short_line,
    read_capped,
)
from fediverse_ai.inbox_client import InboxClient, normalise_url
from fediverse_ai.netguard import CANNOT_RESOLVE, NetGuard
from fediverse_ai.retry import classify_status, parse_retry_after
from fediverse_ai.signing_auth import Signer

__all__ = [
    "ACCEPT_AS2",
    "AS2_TYPES",
    "FetchLimits",
    "FetchedBytes",
    "fetch_ap_object",
    "fetch_bytes",
    "is_as2_content_type",
    "post_activity",
]

AS2_TYPES = ("application/activity+json", "application/ld+json")
AS_CONTEXT = "https://www.w3.org/ns/activitystreams"
ACCEPT_AS2 = f'application/activity+json, application/ld+json; profile="{AS_CONTEXT}"'

_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})


@dataclass(frozen=True)
class FetchLimits:
    """Bounds on one fetch; the defaults follow Mastodon's (1 MB, 3 redirects, 30 s)."""

    max_bytes: int = 1_048_576
    max_redirects: int = 3
    total_timeout: float = 30.0


@dataclass(frozen=True)
class FetchedBytes:
    """A successful response. ``url`` is the final URL, after any redirects."""

    url: str
    status: int
    content_type: str
    body: bytes
    robots: str = ""  # the X-Robots-Tag header: pages may opt out of AI reading (noai)


async def fetch_bytes(
    client: httpx.AsyncClient,
    url: str,
    *,
    guard: NetGuard,
    accept: str,
    auth: httpx.Auth | None = None,
    limits: FetchLimits = FetchLimits(),
    max_bytes: int | None = None,
    same_origin: bool = False,
) -> FetchedBytes:
    """GET ``url`` with the guard on every hop, a streamed size cap and one deadline.

    ``max_bytes`` overrides ``limits.max_bytes`` for callers with their own cap (media).
    ``same_origin`` refuses a redirect to another origin (an http -> https upgrade of the
    same host and port excepted), for documents whose host is their authority.
    Raises ``UnsafeURL`` when the guard refuses a hop, ``PayloadTooLarge`` past the cap,
    and ``FetchError`` for too many redirects, a non-2xx status (``http_status`` set),
    network errors and the deadline.
    """
    cap = limits.max_bytes if max_bytes is None else max_bytes
    try:
        async with asyncio.timeout(limits.total_timeout):
            return await _get_following_redirects(
                client, url, guard, accept, auth, limits, cap, same_origin
            )
    except TimeoutError:
        raise FetchError("remote fetch timed out") from None
    except httpx.InvalidURL:
        raise UnsafeURL("invalid URL") from None
    except httpx.HTTPError as exc:
        raise FetchError(f"remote fetch failed: {network_reason(exc)}") from None


async def _get_following_redirects(
    client: httpx.AsyncClient,
    url: str,
    guard: NetGuard,
    accept: str,
    auth: httpx.Auth | None,
    limits: FetchLimits,
    cap: int,
    same_origin: bool,
) -> FetchedBytes:
    current = httpx.URL(url)
    for _hop in range(limits.max_redirects + 1):
        await guard.check_url(str(current))
        request = client.build_request("GET", current, headers={"Accept": accept})
        response = await client.send(request, auth=auth, stream=True, follow_redirects=False)
        try:
            location = response.headers.get("location")
            if response.status_code in _REDIRECT_STATUSES and location:
                # Relative Locations resolve against the URL that answered.
                target = response.url.join(location)
                if same_origin and not _redirect_keeps_origin(current, target):
                    raise FetchError("redirected to another origin")
                current = target
                continue
            if not response.is_success:
                raise FetchError(
                    f"remote returned HTTP {response.status_code}",
                    http_status=response.status_code,
                )
            body = await read_capped(response, cap)
            return FetchedBytes(
                url=str(response.url),
                status=response.status_code,
                content_type=response.headers.get("content-type", ""),
                body=body,
                robots=", ".join(response.headers.get_list("x-robots-tag")),
            )
        finally:
            await response.aclose()
    raise FetchError("too many redirects")


def _redirect_keeps_origin(source: httpx.URL, target: httpx.URL) -> bool:
    """Same host and port, and the scheme kept or upgraded from http to https."""
    if source.raw_host.lower() != target.raw_host.lower():
        return False
    if source.scheme == target.scheme:
        return source.port == target.port
    if (source.scheme, target.scheme) != ("http", "https"):
        return False
    # An upgrade moves from the default http port to the default https port.
    return source.port in (None, 80) and target.port in (None, 443)


def is_as2_content_type(value: str) -> bool:
    """True for ``application/activity+json`` and for ``application/ld+json`` with the
    ActivityStreams profile or no profile; other JSON-LD profiles are other vocabularies."""
    media, _, rest = value.partition(";")
    media = media.strip().lower()
    if media == AS2_TYPES[0]:
        return True
    if media != AS2_TYPES[1]:
        return False
    for param in rest.split(";"):
        name, _, raw = param.partition("=")
        if name.strip().lower() == "profile":
            return AS_CONTEXT in raw.strip().strip('"').split()
    return True


async def fetch_ap_object(
    client: httpx.AsyncClient,
    url: str,
    *,
    guard: NetGuard,
    auth: httpx.Auth | None = None,
    limits: FetchLimits = FetchLimits(),
) -> dict[str, Any]:
    """Fetch an ActivityPub document and prove it is the one at ``url``.

    A server may only speak for its own URLs (CVE-2024-23832): redirects to another origin
    are refused (otherwise any server could answer for an actor by redirecting to it, and
    the document would carry the victim's id), and the document's ``id`` must be the URL it
    was served from. When the id differs but is on the same host (``/@bob`` serving
    ``/users/bob``), the id is fetched once and must match there; an id on another host is
    refused without fetching it, since a peer must not steer us to arbitrary URLs. Callers
    that act on what the document says must still check that the id is the one they expected
    (``resolver.fetch_actor`` does for actors).

    A fragment (``.../users/bob#main-key``) is not sent; the document is fetched
    without it and ids are compared without it, as key ids live inside actors.
    """
    base, has_fragment = _split_fragment(url)
    document, final_url = await _fetch_as2_document(client, base, guard, auth, limits)
    doc_id = _document_id(document, strip_fragment=has_fragment)
    if _same_url(doc_id, final_url):
        return document
    if not _same_host(doc_id, final_url):
        raise FetchError("id does not match the URL")
    document, final_url = await _fetch_as2_document(client, doc_id, guard, auth, limits)
    refetched_id = _document_id(document, strip_fragment=has_fragment)
    if not (_same_url(refetched_id, final_url) and _same_url(refetched_id, doc_id)):
        raise FetchError("id does not match the URL")
    return document


async def _fetch_as2_document(
    client: httpx.AsyncClient,
    url: str,
    guard: NetGuard,
    auth: httpx.Auth | None,
    limits: FetchLimits,
) -> tuple[dict[str, Any], str]:
    fetched = await fetch_bytes(
        client, url, guard=guard, accept=ACCEPT_AS2, auth=auth, limits=limits, same_origin=True
    )
    if not is_as2_content_type(fetched.content_type):
        raise FetchError("not an ActivityPub document")
    try:
        document = safe_json.loads(fetched.body)
    except BadRequest:
        raise FetchError("invalid JSON in ActivityPub document") from None
    if not isinstance(document, dict):
        raise FetchError("ActivityPub document is not a JSON object")
    return document, fetched.url


def _document_id(document: dict[str, Any], *, strip_fragment: bool) -> str:
    doc_id = document.get("id")
    if not isinstance(doc_id, str) or not doc_id:
        raise FetchError("ActivityPub document has no id")
    return _split_fragment(doc_id)[0] if strip_fragment else doc_id


def _split_fragment(url: str) -> tuple[str, bool]:
    base, sep, _fragment = url.partition("#")
    return base, bool(sep)


def _same_url(a: str, b: str) -> bool:
    """Equal as httpx sees them (scheme/host case, default port), which is what we fetch."""
    try:
        return httpx.URL(a) == httpx.URL(b)
    except httpx.InvalidURL:
        return False


def _same_host(a: str, b: str) -> bool:
    try:
        return httpx.URL(a).raw_host.lower() == httpx.URL(b).raw_host.lower()
    except httpx.InvalidURL:
        return False


async def post_activity(
    client: InboxClient,
    inbox_url: str,
    body: bytes,
    *,
    guard: NetGuard,
    auth: Signer,
    timeout: float = 30.0,  # noqa: ASYNC109 -- the caller picks a per-delivery deadline
) -> None:
    """Deliver one activity to one inbox; return on 2xx, else raise ``DeliveryError``.

    ``DeliveryError.permanent`` tells the worker whether to retry (see
    ``retry.classify_status``); ``retry_after`` carries the peer's Retry-After in
    seconds. A URL the guard refuses is a permanent failure, except a host that does not
    resolve, which DNS may fix. Redirects are not followed: a signed POST must not be
    replayed elsewhere, and inboxes do not redirect.
    """
    try:
        async with asyncio.timeout(timeout):
            await guard.check_url(inbox_url)
            url = normalise_url(inbox_url)
            headers = {"Content-Type": AS2_TYPES[0], "Accept": ACCEPT_AS2}
            # RSA signing (0.23 ms) releases the GIL: in a thread it runs on another core while
            # the event loop goes on; fan-out rose from 0.38 to about 0.45 of the one-core
            # signing limit (BENCHMARKS.md).
            signed = await asyncio.to_thread(auth.headers_for, "POST", url, headers, body)
            headers.update(signed)
            answer = await client.post(url, headers, body)
    except UnsafeURL as exc:
        raise DeliveryError(exc.message, permanent=exc.message != CANNOT_RESOLVE) from None
    except TimeoutError:
        raise DeliveryError("delivery timed out", permanent=False) from None
    except InvalidURL:
        raise DeliveryError("invalid inbox URL", permanent=True) from None
    except TransportError as exc:
        raise DeliveryError(f"delivery failed: {exc.message}", permanent=False) from None

    status = answer.status
    if 200 <= status < 300:
        return
    snippet = ""
    if answer.headers.get("content-encoding", "identity").lower() == "identity":
        snippet = one_short_line(answer.body_head[:ERROR_SNIPPET_BYTES].decode("utf-8", "replace"))
    retry_after = parse_retry_after(answer.headers.get("retry-after"), now=datetime.now(UTC))
    message = f"inbox returned HTTP {status}" + (f": {snippet}" if snippet else "")
    raise DeliveryError(
        message,
        permanent=classify_status(status) == "permanent",
        http_status=status,
        retry_after=retry_after.total_seconds() if retry_after is not None else None,
    )
