"""Signed requests to us: the URL they are verified against, and who signed a GET.

Inbox POSTs and signed GETs (authorized fetch, issue 13) verify the same way: against our own
URL, never the client's idea of it, with the signer's key fetched under the bounds of
``federation.signer_keys``.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from quart import Request

from ..errors import BadRequest, Forbidden, SignatureError
from ..federation import signer_keys
from ..httpsig import verify_request
from ..models import Actor
from ..netguard import is_blocked_domain
from ..state import State
from ..storage import actors
from ..vocab import host_of, strip_fragment

log = logging.getLogger(__name__)
Scope = dict[str, Any]
_SIGNATURE_HEADERS = ("signature", "signature-input")


def as_sent(
    scope: Scope, headers: list[tuple[str, str]], *, base_url: str, trusted_proxy: bool
) -> tuple[str, list[tuple[str, str]]]:
    """The URL and headers to verify the signature against: always our own.

    The URL is built from the configured base URL, never from the client's Host: a delivery
    signed for another server's inbox, replayed here with that server's name in Host, would
    otherwise verify (issue 17). The host the request was addressed to (the forwarded one
    behind a trusted proxy) must be ours.
    """
    named = {k: v for k, v in headers}
    presented = named.get("host", "")
    if trusted_proxy and "x-forwarded-host" in named:
        presented = named["x-forwarded-host"].split(",")[0].strip()
    scheme, _, authority = base_url.partition("://")
    if _without_default_port(presented, scheme) != _without_default_port(authority, scheme):
        raise SignatureError("the request is not addressed to this server")
    headers = [(k, v) for k, v in headers if k != "host"] + [("host", authority)]
    # Signatures cover the path as sent (percent-encoding included), so use the raw bytes.
    raw = scope.get("raw_path") or scope["path"].encode()
    target = raw.decode("latin-1")
    if scope.get("query_string"):
        target += "?" + scope["query_string"].decode("latin-1")
    return f"{base_url}{target}", headers


def _without_default_port(host: str, scheme: str) -> str:
    host = host.strip().lower()
    default = ":443" if scheme == "https" else ":80"
    return host.removesuffix(default)


async def get_signer(state: State, request: Request) -> Actor | None:
    """The remote actor that signed this GET; None when it is not signed.

    A signature that does not verify is a ``SignatureError`` (401) in secure mode; otherwise
    the request is served as an anonymous one (public objects only), as Mastodon does, so a
    peer with a skewed clock still reads what everybody may. A signer of a blocked domain is
    refused (403), as at the inbox.
    """
    headers = [(k.lower(), v) for k, v in request.headers.items()]
    if not any(k in _SIGNATURE_HEADERS for k, _ in headers) and not any(
        k == "authorization" and v.lower().startswith("signature ") for k, v in headers
    ):
        return None
    url, headers = as_sent(
        dict(request.scope),
        headers,
        base_url=state.config.instance.base_url,
        trusted_proxy=state.config.server.trusted_proxy,
    )
    try:
        verified = await verify_request(
            "GET",
            url,
            headers,
            b"",
            # A GET names no actor: the key's own id stands in for it (its host is the signer's).
            fetch_key=_any_actor_key(state),
            now=datetime.fromtimestamp(state.now(), UTC),
            max_skew=timedelta(seconds=state.config.federation.signature_max_skew_seconds),
        )
    except (SignatureError, BadRequest) as exc:
        if state.config.federation.authorized_fetch:
            raise
        log.info("GET %s: signature not accepted (%s), served as unsigned", url, exc.message)
        return None
    owner = strip_fragment(verified.owner)
    if is_blocked_domain((host_of(owner) or "").split(":")[0], await state.blocked_domains()):
        raise Forbidden("this domain is blocked here")
    signer = await actors.by_uri(state.db, owner)
    if signer is None:
        raise SignatureError("the signing key's owner is unknown")
    return signer


def _any_actor_key(state: State) -> Any:
    async def lookup(key_id: str, refresh: bool) -> Any:
        return await signer_keys.fetch_key(state, key_id, refresh, actor_uri=key_id)

    return lookup
