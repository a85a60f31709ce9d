"""HTTP Signatures for ActivityPub: verify inbound requests, sign outbound ones.

This is the module to import. It is pure protocol code: time (``now``) and key
lookup (``fetch_key``) are passed in, so it imports neither storage nor
configuration and tests can pin both.

Inbound we accept both schemes Mastodon accepts: RFC 9421 when a
``Signature-Input`` header is present, draft-cavage otherwise (``Signature`` or
``Authorization: Signature``). Outbound we sign draft-cavage ``rsa-sha256``,
which every implementation understands; :func:`sign_request_rfc9421` is there
for a retry-with-RFC-9421 path and for tests.

The implementation lives in ``httpsig_cavage``, ``httpsig_rfc9421``,
``httpsig_common`` and ``httpsig_sf`` (a Structured Fields parser) to keep each
module small.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from fediverse_ai.errors import SignatureError
from fediverse_ai.httpsig_cavage import sign_request, verify_cavage
from fediverse_ai.httpsig_common import (
    FetchKey,
    ResolvedKey,
    VerifiedSignature,
    normalize_headers,
    sha256_digest_header,
)
from fediverse_ai.httpsig_rfc9421 import sign_request_rfc9421, verify_rfc9421

__all__ = [
    "FetchKey",
    "ResolvedKey",
    "VerifiedSignature",
    "sha256_digest_header",
    "sign_request",
    "sign_request_rfc9421",
    "verify_request",
]


async def verify_request(
    method: str,
    url: str,
    headers: Mapping[str, str] | Sequence[tuple[str, str]],
    body: bytes,
    *,
    fetch_key: FetchKey,
    now: datetime,
    max_skew: timedelta = timedelta(hours=1),
) -> VerifiedSignature:
    """Verify the signature on an inbound request and say whose key made it.

    ``url`` is the full URL as the client saw it (scheme, host, raw path, query),
    rebuilt by the web layer when we run behind a proxy. ``headers`` may use any
    case; repeated fields are joined with ", ". ``fetch_key(key_id, refresh)``
    resolves the signer's key; when a signature fails with the first key it is
    called once more with ``refresh=True``, in case the signer rotated its key.

    Raises :class:`~fediverse_ai.errors.MalformedSignature` (400) for a header we
    cannot parse and :class:`~fediverse_ai.errors.SignatureError` (401) for every
    other failure, with a short reason that is safe to send back. The caller must
    still check that ``owner`` is the activity's actor.
    """
    normalized = normalize_headers(headers)
    if "signature-input" in normalized:
        return await verify_rfc9421(
            method, url, normalized, body, fetch_key=fetch_key, now=now, max_skew=max_skew
        )
    header_value = normalized.get("signature")
    if header_value is None:
        authorization = normalized.get("authorization", "")
        if authorization[:10].lower() == "signature ":
            header_value = authorization
    if not header_value:
        raise SignatureError("missing signature")
    return await verify_cavage(
        method,
        url,
        normalized,
        body,
        header_value,
        fetch_key=fetch_key,
        now=now,
        max_skew=max_skew,
    )
