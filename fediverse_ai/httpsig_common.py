"""Pieces shared by the draft-cavage and RFC 9421 HTTP Signatures code.

Everything here is pure: no storage, no configuration, no clock. The public
types (:class:`ResolvedKey`, :data:`FetchKey`, :class:`VerifiedSignature`) are
re-exported by :mod:`fediverse_ai.httpsig`, which is the module other code
should import.

Parsed keys are cached by PEM text because parsing a PEM costs far more than
verifying an RSA signature, and the same few thousand remote keys sign almost
all of our inbound traffic.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from functools import lru_cache
from typing import NamedTuple
from urllib.parse import urlsplit

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa
from cryptography.hazmat.primitives.serialization import load_pem_private_key, load_pem_public_key

from fediverse_ai.errors import SignatureError
from fediverse_ai.httpsig_sf import Item, StructuredFieldError, parse_dictionary

PublicKey = rsa.RSAPublicKey | ed25519.Ed25519PublicKey
PrivateKey = rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey
Headers = Mapping[str, str] | Sequence[tuple[str, str]]


@dataclass(frozen=True)
class ResolvedKey:
    """A public key as published by its owner, as ``fetch_key`` found it."""

    key_id: str  # as given in the signature, e.g. "https://host/users/bob#main-key"
    owner: str  # actor id that owns the key
    public_key_pem: str  # PEM (SPKI) of an RSA or Ed25519 public key


FetchKey = Callable[[str, bool], Awaitable[ResolvedKey]]
"""``fetch_key(key_id, refresh)``; ``refresh=False`` may answer from a cache."""


@dataclass(frozen=True)
class VerifiedSignature:
    """Who signed a request that verified: callers check ``owner`` against the actor."""

    key_id: str
    owner: str  # ResolvedKey.owner
    scheme: str  # "draft-cavage" or "rfc9421"


# --- headers, URLs and time ------------------------------------------------------------------


def normalize_headers(headers: Headers) -> dict[str, str]:
    """Lower-case names, trim values, and join repeated fields with ", " (both specs say so)."""
    pairs: Iterable[tuple[str, str]] = headers.items() if isinstance(headers, Mapping) else headers
    result: dict[str, str] = {}
    for name, value in pairs:
        key = name.lower()
        value = value.strip(" \t")
        result[key] = f"{result[key]}, {value}" if key in result else value
    return result


class URLParts(NamedTuple):
    """The parts of a request URL that signatures cover, already in canonical form."""

    scheme: str  # lower case
    authority: str  # lower-case host, default port dropped
    path: str  # raw path, "/" when empty
    query: str  # raw query without "?", "" when absent


_DEFAULT_PORTS = {"http": "80", "https": "443"}


def split_url(url: str) -> URLParts:
    """Split a full request URL; the path stays percent-encoded because that is what was signed."""
    parts = urlsplit(url)
    netloc = parts.netloc.rpartition("@")[2]
    if netloc.startswith("["):  # IPv6 literal: the port follows "]:"
        host, _, rest = netloc.partition("]")
        host, port = host + "]", rest[1:]
    else:
        host, _, port = netloc.partition(":")
    authority = host.lower()
    if port and port != _DEFAULT_PORTS.get(parts.scheme):
        authority += ":" + port
    return URLParts(parts.scheme, authority, parts.path or "/", parts.query)


def as_utc(moment: datetime) -> datetime:
    """Treat a naive datetime as UTC rather than local time (``timestamp()`` would not)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


_MONTH_NAMES = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_MONTHS = {name: number for number, name in enumerate(_MONTH_NAMES, 1)}
_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def http_date(moment: datetime) -> str:
    """Format an IMF-fixdate (``Wed, 20 Dec 2023 10:00:00 GMT``), independent of the locale."""
    utc = as_utc(moment).astimezone(UTC)
    month = _MONTH_NAMES[utc.month - 1]
    return f"{_WEEKDAYS[utc.weekday()]}, {utc.day:02d} {month} {utc.year:04d} {utc:%H:%M:%S} GMT"


@lru_cache(maxsize=256)  # requests signed in the same second share a Date
def parse_http_date(value: str) -> float | None:
    """Parse a Date header to a POSIX timestamp, or ``None`` when it is not a date.

    The IMF-fixdate that everyone sends takes a fast path; the obsolete formats go
    through :mod:`email.utils`.
    """
    try:
        if len(value) == 29 and value[3:5] == ", " and value[25:] == " GMT":
            moment = datetime(
                int(value[12:16]),
                _MONTHS[value[8:11]],
                int(value[5:7]),
                int(value[17:19]),
                int(value[20:22]),
                int(value[23:25]),
                tzinfo=UTC,
            )
        else:
            moment = parsedate_to_datetime(value)
    except (ValueError, KeyError, TypeError, IndexError):
        return None
    return as_utc(moment).timestamp()


def check_window(timestamp: float, now: float, max_skew: timedelta, what: str) -> None:
    """Reject a time further than ``max_skew`` from ``now`` in either direction."""
    if abs(timestamp - now) > max_skew.total_seconds():
        raise SignatureError(f"{what} outside the accepted window")


def b64decode_strict(value: str) -> bytes | None:
    """Decode standard base64, or ``None`` when it is not base64 at all."""
    try:
        return binascii.a2b_base64(value.strip(), strict_mode=True)
    except (binascii.Error, ValueError):
        return None


# --- body digests ----------------------------------------------------------------------------

_HASHES: dict[str, Callable[[bytes], bytes]] = {
    "sha-256": lambda body: hashlib.sha256(body).digest(),
    "sha-512": lambda body: hashlib.sha512(body).digest(),
}


def sha256_digest_header(body: bytes) -> str:
    """The draft-cavage ``Digest`` value: ``SHA-256=`` and the base64 (not hex) digest."""
    return "SHA-256=" + base64.b64encode(hashlib.sha256(body).digest()).decode("ascii")


def content_digest_header(body: bytes) -> str:
    """The RFC 9530 ``Content-Digest`` value: ``sha-256=:<base64>:``."""
    return "sha-256=:" + base64.b64encode(hashlib.sha256(body).digest()).decode("ascii") + ":"


def check_digest_header(value: str | None, body: bytes) -> None:
    """Check an RFC 3230 ``Digest`` header (``SHA-256=<b64>``, any case) against the body."""
    if value is None:
        raise SignatureError("digest header missing")
    checked = False
    for entry in value.split(","):
        algorithm, _, encoded = entry.strip().partition("=")
        hasher = _HASHES.get(algorithm.lower())
        if hasher is None:
            continue
        digest = b64decode_strict(encoded)
        if digest is None or not hmac.compare_digest(digest, hasher(body)):
            raise SignatureError("digest mismatch")
        checked = True
    if not checked:
        raise SignatureError("unsupported digest algorithm")


def check_content_digest(value: str | None, body: bytes) -> None:
    """Check an RFC 9530 ``Content-Digest`` (SHA-256 and/or SHA-512) against the body."""
    if value is None:
        raise SignatureError("content-digest header missing")
    try:
        members = parse_dictionary(value)
    except StructuredFieldError as exc:
        raise SignatureError("content-digest header malformed") from exc
    checked = False
    for algorithm, member in members.items():
        hasher = _HASHES.get(algorithm)
        if hasher is None:
            continue
        if not isinstance(member, Item) or not isinstance(member.value, bytes):
            raise SignatureError("content-digest header malformed")
        if not hmac.compare_digest(member.value, hasher(body)):
            raise SignatureError("digest mismatch")
        checked = True
    if not checked:
        raise SignatureError("unsupported digest algorithm")


# --- keys and signatures ---------------------------------------------------------------------


@lru_cache(maxsize=1024)
def load_public_key(pem: str) -> PublicKey:
    """Parse (and cache) an SPKI PEM; only RSA and Ed25519 keys are accepted."""
    try:
        key = load_pem_public_key(pem.encode("ascii"))
    except (ValueError, TypeError, UnicodeEncodeError, UnsupportedAlgorithm) as exc:
        raise SignatureError("the signer's public key is unusable") from exc
    if not isinstance(key, rsa.RSAPublicKey | ed25519.Ed25519PublicKey):
        raise SignatureError("unsupported key type")
    return key


@lru_cache(maxsize=16)
def load_private_key(pem: str) -> PrivateKey:
    """Parse (and cache) our own unencrypted PKCS#1/PKCS#8 private key PEM."""
    key = load_pem_private_key(pem.encode("ascii"), password=None)
    if not isinstance(key, rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey):
        raise ValueError("only RSA and Ed25519 private keys can sign requests")
    return key


_PKCS1 = padding.PKCS1v15()
_PSS_SHA512 = padding.PSS(mgf=padding.MGF1(hashes.SHA512()), salt_length=64)
_RSA_ALGORITHMS = {"rsa-sha256", "rsa-v1_5-sha256", "rsa-pss-sha512"}


def verify_signature(
    key: PublicKey, algorithm: str | None, signature: bytes, message: bytes
) -> bool:
    """Check one signature; ``algorithm`` ``None``/``hs2019`` means "whatever the key is".

    Raises :class:`SignatureError` when the algorithm cannot be used with this key.
    """
    try:
        if isinstance(key, rsa.RSAPublicKey):
            if algorithm == "rsa-pss-sha512":
                key.verify(signature, message, _PSS_SHA512, hashes.SHA512())
            elif algorithm in (None, "hs2019", "rsa-sha256", "rsa-v1_5-sha256"):
                key.verify(signature, message, _PKCS1, hashes.SHA256())
            else:
                raise SignatureError("algorithm does not match the key")
        elif algorithm in _RSA_ALGORITHMS:
            raise SignatureError("algorithm does not match the key")
        else:
            key.verify(signature, message)
    except InvalidSignature:
        return False
    return True


def sign_bytes(key: PrivateKey, message: bytes) -> bytes:
    """Sign with RSASSA-PKCS1-v1_5/SHA-256 or Ed25519, whichever the key is."""
    if isinstance(key, rsa.RSAPrivateKey):
        return key.sign(message, _PKCS1, hashes.SHA256())
    return key.sign(message)


async def verify_with_fetched_key(
    key_id: str,
    fetch_key: FetchKey,
    check: Callable[[PublicKey], bool],
) -> ResolvedKey:
    """Resolve ``key_id`` and run ``check``; on failure refetch the key exactly once.

    A failure may mean the signer rotated its key since we cached it, so the
    second attempt asks ``fetch_key`` to bypass its cache. ``check`` returns
    whether the signature matched, or raises :class:`SignatureError` when the key
    cannot be used at all; both are retried with the fresh key.
    """
    resolved = await fetch_key(key_id, False)
    try:
        if check(load_public_key(resolved.public_key_pem)):
            return resolved
        failure = SignatureError("signature does not match")
    except SignatureError as exc:
        failure = exc
    fresh = await fetch_key(key_id, True)
    if fresh.public_key_pem == resolved.public_key_pem:
        raise failure
    if check(load_public_key(fresh.public_key_pem)):
        return fresh
    raise SignatureError("signature does not match")
