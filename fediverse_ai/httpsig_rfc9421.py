"""RFC 9421 HTTP Message Signatures, as Mastodon (4.5+) sends and verifies them.

A request carries ``Signature-Input: sig1=("@method" "@target-uri" …);created=…;keyid="…"``
and ``Signature: sig1=:<base64>:``. We verify one signature: the first label whose
algorithm we support. Like Mastodon we require ``created`` and ``keyid``, coverage
of ``@method`` and ``@target-uri``, and for a POST (or any body) a covered
``content-digest`` that matches the body.

Derived components are computed from ``url``, the full URL as the client saw it
(the web layer rebuilds it behind a proxy), never from our own bind address.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, timedelta

from fediverse_ai.errors import MalformedSignature, SignatureError
from fediverse_ai.httpsig_common import (
    FetchKey,
    PublicKey,
    URLParts,
    VerifiedSignature,
    as_utc,
    check_content_digest,
    check_window,
    content_digest_header,
    load_private_key,
    sign_bytes,
    split_url,
    verify_signature,
    verify_with_fetched_key,
)
from fediverse_ai.httpsig_sf import (
    InnerList,
    Item,
    StructuredFieldError,
    Token,
    parse_dictionary,
    serialize_dictionary,
    serialize_params,
)

__all__ = ["sign_request_rfc9421", "signature_base", "verify_rfc9421"]

SCHEME = "rfc9421"
SUPPORTED_ALGORITHMS = frozenset({"rsa-v1_5-sha256", "rsa-pss-sha512", "ed25519"})
_REQUIRED = ("@method", "@target-uri")
_LABEL = "sig1"
_COMPONENT = re.compile(r"@?[a-z0-9!#$%&'*+\-.^_`|~]+")  # lower-case field names and @derived


def _derived(name: str, method: str, parts: URLParts) -> str:
    """The value of a derived component (RFC 9421 section 2.2) for a request.

    The authority is normalized (lower case, default port dropped) as Mastodon's
    ``request.original_url`` is, so ``@target-uri`` matches what peers sign.
    """
    if name == "@method":
        return method.upper()
    if name == "@target-uri":
        query = f"?{parts.query}" if parts.query else ""
        return f"{parts.scheme}://{parts.authority}{parts.path}{query}"
    if name == "@authority":
        return parts.authority
    if name == "@scheme":
        return parts.scheme
    if name == "@path":
        return parts.path
    if name == "@query":
        return f"?{parts.query}"
    if name == "@request-target":
        return f"{parts.path}?{parts.query}" if parts.query else parts.path
    raise SignatureError(f"unsupported component {name}")


def signature_base(inner: InnerList, method: str, url: str, headers: Mapping[str, str]) -> bytes:
    """Build the signature base for a parsed ``Signature-Input`` member.

    ``headers`` must already be normalized (lower-case names, trimmed values).
    Component parameters (``;sf``, ``;key``, ``;req``…) are not supported.
    """
    parts = split_url(url)
    lines: list[str] = []
    names: list[str] = []
    for item in inner.items:
        name = item.value
        if type(name) is not str or not _COMPONENT.fullmatch(name) or name in names:
            raise MalformedSignature("invalid component in Signature-Input")
        if item.params:
            raise SignatureError(f"unsupported parameters on component {name}")
        names.append(name)
        if name.startswith("@"):
            value = _derived(name, method, parts)
        elif name in headers:
            value = headers[name]
        else:
            raise SignatureError(f"covered header {name} missing")
        if "\n" in value or "\r" in value:
            raise SignatureError(f"component {name} contains a line break")
        lines.append(f'"{name}": {value}')
    # The component names were checked above, so serializing them is just quoting;
    # this equals serialize_inner_list(inner) without serializing each item twice.
    covered = " ".join(f'"{name}"' for name in names)
    lines.append(f'"@signature-params": ({covered}){serialize_params(inner.params)}')
    return "\n".join(lines).encode()


def _choose(
    inputs: Mapping[str, object], signatures: Mapping[str, object]
) -> tuple[InnerList, bytes]:
    """Pick the first signature we can check: an inner list with a supported ``alg``."""
    for label, member in inputs.items():
        signature = signatures.get(label)
        if not isinstance(member, InnerList) or not isinstance(signature, Item):
            continue
        alg = member.params.get("alg")
        if alg is not None and alg not in SUPPORTED_ALGORITHMS:
            continue
        if isinstance(signature.value, bytes):
            return member, signature.value
    raise SignatureError("no supported signature")


async def verify_rfc9421(
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    fetch_key: FetchKey,
    now: datetime,
    max_skew: timedelta,
) -> VerifiedSignature:
    """Verify an RFC 9421 signature; ``headers`` must already be normalized."""
    try:
        inputs = parse_dictionary(headers["signature-input"])
        signatures = parse_dictionary(headers.get("signature", ""))
    except StructuredFieldError as exc:
        raise MalformedSignature("malformed Signature-Input or Signature header") from exc
    inner, signature = _choose(inputs, signatures)
    params = inner.params
    key_id, created, expires = params.get("keyid"), params.get("created"), params.get("expires")
    if type(key_id) is not str or not key_id:
        raise SignatureError("signature has no keyid")
    if type(created) is not int:
        raise SignatureError("signature has no created time")
    if expires is not None and type(expires) is not int:
        raise MalformedSignature("expires is not an integer")
    alg = params.get("alg")
    algorithm = alg if isinstance(alg, str) and not isinstance(alg, Token) else None
    if alg is not None and algorithm is None:
        raise MalformedSignature("alg is not a string")

    covered = {item.value for item in inner.items}
    missing = [name for name in _REQUIRED if name not in covered]
    if missing:
        raise SignatureError(f"{missing[0]} not signed")
    method = method.upper()
    if (method == "POST" or body) and "content-digest" not in covered:
        raise SignatureError("content-digest not signed")

    now_ts = as_utc(now).timestamp()
    check_window(created, now_ts, max_skew, "signature time")
    if expires is not None and now_ts > expires:
        raise SignatureError("signature expired")
    if "content-digest" in covered:
        check_content_digest(headers.get("content-digest"), body)
    base = signature_base(inner, method, url, headers)

    def check(key: PublicKey) -> bool:
        return verify_signature(key, algorithm, signature, base)

    resolved = await verify_with_fetched_key(key_id, fetch_key, check)
    return VerifiedSignature(key_id=key_id, owner=resolved.owner, scheme=SCHEME)


def sign_request_rfc9421(
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: bytes | None,
    *,
    key_id: str,
    private_key_pem: str,
    now: datetime,
) -> dict[str, str]:
    """Sign a request with RFC 9421 the way Mastodon 4.5+ does; return the headers to add.

    Covers ``@method`` and ``@target-uri``, plus ``content-digest`` (added here)
    when there is a body or the method is POST. The algorithm follows the key:
    ``rsa-v1_5-sha256`` for RSA, ``ed25519`` for Ed25519; like Mastodon we leave
    ``alg`` out of the parameters. ``headers`` is accepted for symmetry with
    :func:`sign_request` and is not covered.
    """
    del headers  # nothing else is covered; kept for the shared call shape
    key = load_private_key(private_key_pem)
    added: dict[str, str] = {}
    components = ["@method", "@target-uri"]
    if body is not None or method.upper() == "POST":
        added["Content-Digest"] = content_digest_header(body or b"")
        components.append("content-digest")
    created = int(as_utc(now).timestamp())
    inner = InnerList(
        tuple(Item(name, {}) for name in components), {"created": created, "keyid": key_id}
    )
    normalized = {"content-digest": added.get("Content-Digest", "")}
    base = signature_base(inner, method, url, normalized)
    added["Signature-Input"] = serialize_dictionary({_LABEL: inner})
    added["Signature"] = serialize_dictionary({_LABEL: Item(sign_bytes(key, base), {})})
    return added
