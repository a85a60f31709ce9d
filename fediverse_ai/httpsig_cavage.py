"""draft-cavage HTTP Signatures: what almost every fediverse server sends and expects.

Verification mirrors Mastodon's ``SignatureVerification`` so that what Mastodon
accepts we accept, and what it refuses (weak coverage, stale dates, unsigned
digests) we refuse too: the signed headers must include ``date`` or
``(created)``, and ``(request-target)`` or ``digest``; a GET must sign ``host``;
a POST (or any request with a body) must sign ``digest`` (or ``content-digest``)
and that digest must match the body. Signing produces exactly what Mastodon
sends: ``rsa-sha256`` over ``(request-target) host date [digest [content-type]]``.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from datetime import datetime, timedelta

from cryptography.hazmat.primitives.asymmetric import rsa

from fediverse_ai.errors import MalformedSignature, SignatureError
from fediverse_ai.httpsig_common import (
    FetchKey,
    PublicKey,
    VerifiedSignature,
    as_utc,
    b64decode_strict,
    check_content_digest,
    check_digest_header,
    check_window,
    http_date,
    load_private_key,
    parse_http_date,
    sha256_digest_header,
    sign_bytes,
    split_url,
    verify_signature,
    verify_with_fetched_key,
)

__all__ = ["parse_signature_header", "sign_request", "signing_strings", "verify_cavage"]

SCHEME = "draft-cavage"
_ALGORITHMS = frozenset({"rsa-sha256", "hs2019", "ed25519"})
_PARAM = re.compile(
    r'[ \t]*([A-Za-z][A-Za-z0-9_-]*)[ \t]*=[ \t]*(?:"([^"]*)"|([^",\s]*))[ \t]*(?:,|\Z)'
)
_INTEGER = re.compile(r"[0-9]{1,16}")
_BODY_DIGESTS = ("digest", "content-digest")


def parse_signature_header(value: str) -> dict[str, str]:
    """Parse ``keyId="…",algorithm="…",headers="…",signature="…"`` into lower-cased names.

    Also accepts the ``Authorization: Signature …`` form. Integers such as
    ``created=1700000000`` may come unquoted.
    """
    text = value.strip()
    if text[:10].lower() == "signature ":
        text = text[10:]
    params: dict[str, str] = {}
    pos = 0
    while pos < len(text):
        match = _PARAM.match(text, pos)
        if match is None:
            raise MalformedSignature("malformed Signature header")
        name = match.group(1).lower()
        if name in params:
            raise MalformedSignature(f"duplicate {name} in Signature header")
        quoted, bare = match.group(2), match.group(3)
        params[name] = quoted if quoted is not None else bare
        pos = match.end()
    if not params.get("keyid") or not params.get("signature"):
        raise MalformedSignature("Signature header needs keyId and signature")
    return params


def _int_param(params: Mapping[str, str], name: str) -> int:
    value = params.get(name)
    if value is None:
        raise SignatureError(f"({name}) is signed but the {name} parameter is missing")
    if _INTEGER.fullmatch(value) is None:
        raise MalformedSignature(f"{name} parameter is not an integer")
    return int(value)


def _check_strength(signed: list[str], method: str, body: bytes) -> None:
    """Mastodon's minimum coverage rules (``verify_signature_strength!``)."""
    if "date" not in signed and "(created)" not in signed:
        raise SignatureError("date or (created) not signed")
    if "(request-target)" not in signed and "digest" not in signed:
        raise SignatureError("(request-target) not signed")
    if method == "GET" and "host" not in signed:
        raise SignatureError("host not signed")
    if (method == "POST" or body) and not any(name in signed for name in _BODY_DIGESTS):
        raise SignatureError("digest not signed")


def signing_strings(
    signed: list[str],
    params: Mapping[str, str],
    method: str,
    url: str,
    headers: Mapping[str, str],
) -> list[str]:
    """Every signing string the signer may have meant, the most likely first.

    Signers disagree on whether ``(request-target)`` includes the query (Mastodon
    tries with it, then without), and behind a proxy the ``Host`` header we see
    may not be the one the client sent, so the URL's authority is tried too.
    ``headers`` must already be normalized (lower-case names).
    """
    parts = split_url(url)
    lower = method.lower()
    targets = [f"{lower} {parts.path}"]
    if parts.query and "(request-target)" in signed:
        targets.insert(0, f"{lower} {parts.path}?{parts.query}")
    host_header = headers.get("host")
    hosts = [host_header or parts.authority]
    if host_header and "host" in signed and host_header.lower() != parts.authority:
        hosts.append(parts.authority)
    lines: list[str] = []
    target_at: list[int] = []
    host_at: list[int] = []
    for name in signed:
        if name == "(request-target)":
            target_at.append(len(lines))
            lines.append("")
        elif name == "host":
            host_at.append(len(lines))
            lines.append("")
        elif name in ("(created)", "(expires)"):
            lines.append(f"{name}: {_int_param(params, name[1:-1])}")
        elif name.startswith("("):
            raise SignatureError(f"unsupported pseudo-header {name}")
        elif name in headers:
            lines.append(f"{name}: {headers[name]}")
        else:
            raise SignatureError(f"signed header {name} missing")
    results: list[str] = []
    for target in targets:
        for index in target_at:
            lines[index] = f"(request-target): {target}"
        for host in hosts:
            for index in host_at:
                lines[index] = f"host: {host}"
            results.append("\n".join(lines))
    return results


async def verify_cavage(
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: bytes,
    header_value: str,
    *,
    fetch_key: FetchKey,
    now: datetime,
    max_skew: timedelta,
) -> VerifiedSignature:
    """Verify a draft-cavage signature; ``headers`` must already be normalized.

    Cheap checks (coverage, time window, digest) run before the key lookup so that
    junk never makes us fetch anything remote.
    """
    params = parse_signature_header(header_value)
    algorithm = params.get("algorithm", "").lower() or None
    if algorithm is not None and algorithm not in _ALGORITHMS:
        raise SignatureError("unsupported signature algorithm")
    signature = b64decode_strict(params["signature"])
    if signature is None:
        raise MalformedSignature("signature is not base64")
    signed = params.get("headers", "date").lower().split()
    method = method.upper()
    _check_strength(signed, method, body)

    now_ts = as_utc(now).timestamp()
    pseudo_times = "(created)" in signed or "(expires)" in signed
    if pseudo_times and algorithm is not None and algorithm.startswith("rsa"):
        raise SignatureError(f"(created) and (expires) cannot be used with {algorithm}")
    if "(created)" in signed:
        check_window(_int_param(params, "created"), now_ts, max_skew, "signature time")
    if "expires" in params and now_ts > _int_param(params, "expires"):
        raise SignatureError("signature expired")
    if "date" in signed:
        date = headers.get("date")
        sent = parse_http_date(date) if date else None
        if sent is None:
            raise SignatureError("date header missing or invalid")
        check_window(sent, now_ts, max_skew, "date")
    if "digest" in signed:
        check_digest_header(headers.get("digest"), body)
    if "content-digest" in signed:
        check_content_digest(headers.get("content-digest"), body)

    candidates = [text.encode() for text in signing_strings(signed, params, method, url, headers)]

    def check(key: PublicKey) -> bool:
        return any(verify_signature(key, algorithm, signature, text) for text in candidates)

    resolved = await verify_with_fetched_key(params["keyid"], fetch_key, check)
    return VerifiedSignature(key_id=params["keyid"], owner=resolved.owner, scheme=SCHEME)


def sign_request(
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: bytes | None,
    *,
    key_id: str,
    private_key_pem: str,
    now: datetime,
) -> dict[str, str]:
    """Sign an outgoing request the way Mastodon does; return the headers to add.

    Adds ``Host``, ``Date`` and ``Signature``, plus ``Digest`` when there is a body
    (or the method is POST). A GET signs ``(request-target) host date``; a request
    with a body also signs ``digest`` and, when the caller set one, ``content-type``.
    """
    key = load_private_key(private_key_pem)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("draft-cavage signing (rsa-sha256) needs an RSA key")
    parts = split_url(url)
    target = f"{parts.path}?{parts.query}" if parts.query else parts.path
    added = {"Host": parts.authority, "Date": http_date(now)}
    values = {
        "(request-target)": f"{method.lower()} {target}",
        "host": added["Host"],
        "date": added["Date"],
    }
    if body is not None or method.upper() == "POST":
        added["Digest"] = values["digest"] = sha256_digest_header(body or b"")
        content_type = next((v for k, v in headers.items() if k.lower() == "content-type"), None)
        if content_type is not None:
            values["content-type"] = content_type.strip()
    signing_string = "\n".join(f"{name}: {value}" for name, value in values.items())
    signature = base64.b64encode(sign_bytes(key, signing_string.encode())).decode("ascii")
    added["Signature"] = (
        f'keyId="{key_id}",algorithm="rsa-sha256",'
        f'headers="{" ".join(values)}",signature="{signature}"'
    )
    return added
