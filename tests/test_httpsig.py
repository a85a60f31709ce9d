"""HTTP Signatures: the published vectors (accepted at their time, rejected when
anything changes) and sign -> verify round trips. Rules and key refetch are in
``test_httpsig_rules.py``; cross-checks with other libraries in ``test_httpsig_interop.py``.

Times and keys are pinned; nothing here sleeps or touches the network.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from fediverse_ai.errors import SignatureError
from fediverse_ai.httpsig import (
    FetchKey,
    ResolvedKey,
    VerifiedSignature,
    sha256_digest_header,
    sign_request,
    sign_request_rfc9421,
    verify_request,
)
from fediverse_ai.httpsig_cavage import parse_signature_header, signing_strings
from fediverse_ai.httpsig_common import normalize_headers
from fediverse_ai.httpsig_rfc9421 import signature_base
from fediverse_ai.httpsig_sf import InnerList, parse_dictionary

VECTORS_PATH = Path(__file__).resolve().parent / "fixtures" / "signature-vectors.json"
NOW = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
KEY_ID = "https://example.org/users/ai#main-key"
ACTOR = "https://example.org/users/ai"
INBOX = "https://remote.example/users/bob/inbox"
BODY = b'{"type":"Create","actor":"https://example.org/users/ai"}'
FEDIFY_TEST_BODY = b"Hello, world!"  # the body fedify's http.test.ts signs; the vector omits it


# --- keys and helpers -------------------------------------------------------------------------


def _public_pem(key: rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def _private_pem(key: rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def ed_key() -> ed25519.Ed25519PrivateKey:
    return ed25519.Ed25519PrivateKey.from_private_bytes(bytes(range(32)))


class KeyStore:
    """A ``fetch_key`` that records its calls (refetch is tested in test_httpsig_rules.py)."""

    def __init__(self, fresh: str) -> None:
        self.fresh = fresh
        self.calls: list[tuple[str, bool]] = []

    async def __call__(self, key_id: str, refresh: bool) -> ResolvedKey:
        self.calls.append((key_id, refresh))
        return ResolvedKey(key_id=key_id, owner=ACTOR, public_key_pem=self.fresh)


@dataclass(frozen=True)
class Request:
    method: str
    url: str
    headers: dict[str, str]
    body: bytes
    now: datetime


async def verify(request: Request, fetch_key: FetchKey, **kwargs: Any) -> VerifiedSignature:
    return await verify_request(
        request.method,
        request.url,
        request.headers,
        request.body,
        fetch_key=fetch_key,
        now=kwargs.pop("now", request.now),
        **kwargs,
    )


def date_header(moment: datetime = NOW) -> str:
    return moment.strftime("%a, %d %b %Y %H:%M:%S GMT")


# --- published vectors ------------------------------------------------------------------------


def _load_vectors() -> list[dict[str, Any]]:
    if not VECTORS_PATH.exists():
        return []
    vectors: list[dict[str, Any]] = json.loads(VECTORS_PATH.read_text())["vectors"]
    return vectors


VECTORS = _load_vectors()
VECTOR_PARAMS = [pytest.param(v, id=v["name"]) for v in VECTORS] or [
    pytest.param(None, marks=pytest.mark.skip(reason=f"{VECTORS_PATH} is absent"))
]


def _vector_public_pem(vector: dict[str, Any]) -> str:
    if "public_key_pem" in vector:
        return str(vector["public_key_pem"])
    if "private_key_pem" in vector:
        private = serialization.load_pem_private_key(vector["private_key_pem"].encode(), None)
        assert isinstance(private, rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey)
        return _public_pem(private)
    jwk = vector["public_key_jwk"]

    def number(field: str) -> int:
        return int.from_bytes(base64.urlsafe_b64decode(jwk[field] + "=" * (-len(jwk[field]) % 4)))

    public = rsa.RSAPublicNumbers(number("e"), number("n")).public_key()
    return public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def vector_request(vector: dict[str, Any]) -> Request:
    """Rebuild the request a vector describes, with its Signature header(s)."""
    request = vector.get("request", {})
    headers = dict(request.get("headers", {}))
    body = request.get("body", "").encode()
    if vector["scheme"] == "rfc9421":
        headers["Signature-Input"] = vector["signature_input"]
        headers["Signature"] = f"sig1=:{vector['signature']}:"
        when = datetime.fromisoformat(vector["time"].replace("Z", "+00:00"))
        return Request(request["method"], request["url"], headers, body, when)
    pseudo: dict[str, str] = {}
    present = {name.lower() for name in headers}
    for line in vector["signing_string"].split("\n"):
        name, _, value = line.partition(": ")
        if name.startswith("("):
            pseudo[name] = value
        elif name not in present:
            headers[name.title()] = value  # the vector gives it only in the signing string
    method, _, target = pseudo["(request-target)"].partition(" ")
    url = request.get("url") or f"https://{headers['Host']}{target}"
    if not body and method == "post":
        body = FEDIFY_TEST_BODY
        assert headers["Digest"].lower() == sha256_digest_header(body).lower()
    params = [f'keyId="{vector["keyId"]}"', f'algorithm="{vector["algorithm"]}"']
    params += [
        f"{name[1:-1]}={value}" for name, value in pseudo.items() if name != "(request-target)"
    ]
    params += [f'headers="{vector["signed_headers"]}"', f'signature="{vector["signature"]}"']
    headers["Signature"] = ",".join(params)
    when = datetime.fromisoformat(vector["time"].replace("Z", "+00:00"))
    return Request(method.upper(), url, headers, body, when)


@pytest.mark.parametrize("vector", VECTOR_PARAMS)
async def test_vector_verifies_at_its_time(vector: dict[str, Any]) -> None:
    request = vector_request(vector)
    keys = KeyStore(_vector_public_pem(vector))
    result = await verify(request, keys)
    assert result == VerifiedSignature(vector["keyId"], ACTOR, vector["scheme"])
    assert keys.calls == [(vector["keyId"], False)]


@pytest.mark.parametrize("vector", VECTOR_PARAMS)
def test_vector_signing_string_is_rebuilt_exactly(vector: dict[str, Any]) -> None:
    request = vector_request(vector)
    headers = normalize_headers(request.headers)
    if vector["scheme"] == "rfc9421":
        inner = parse_dictionary(headers["signature-input"])["sig1"]
        assert isinstance(inner, InnerList)
        base = signature_base(inner, request.method, request.url, headers)
        assert base.decode() == vector["signature_base"]
    else:
        params = parse_signature_header(headers["signature"])
        signed = vector["signed_headers"].split()
        built = signing_strings(signed, params, request.method, request.url, headers)
        assert built[0] == vector["signing_string"]


def _tamper_header(request: Request, vector: dict[str, Any]) -> list[tuple[str, Request]]:
    """One request per signed header, each with that header's value changed."""
    if vector["scheme"] == "rfc9421":
        covered = parse_dictionary(vector["signature_input"])["sig1"]
        assert isinstance(covered, InnerList)
        names = [str(item.value) for item in covered.items if not str(item.value).startswith("@")]
    else:
        names = [n for n in vector["signed_headers"].split() if not n.startswith("(")]
    changed = []
    for name in names:
        key = next(k for k in request.headers if k.lower() == name)
        value = request.headers[key]
        if name == "date":
            new = date_header(
                datetime.strptime(value, "%a, %d %b %Y %H:%M:%S GMT") + timedelta(seconds=1)
            )
        elif name == "host":  # a request replayed to another host: the URL changes too
            parts = urlsplit(request.url)
            new = "other.example"
            url = urlunsplit(parts._replace(netloc=new))
            changed.append((name, replace(request, url=url, headers={**request.headers, key: new})))
            continue
        elif name in ("digest", "content-digest"):
            i = len(value) - 6  # a base64 character inside the digest, before any padding
            new = value[:i] + ("A" if value[i] != "A" else "B") + value[i + 1 :]
        else:
            new = value + "x"
        changed.append((name, replace(request, headers={**request.headers, key: new})))
    return changed


def _flip_signature(request: Request, vector: dict[str, Any]) -> Request:
    raw = bytearray(base64.b64decode(vector["signature"]))
    raw[len(raw) // 2] ^= 0x01
    flipped = base64.b64encode(bytes(raw)).decode()
    headers = {
        **request.headers,
        "Signature": request.headers["Signature"].replace(vector["signature"], flipped),
    }
    return replace(request, headers=headers)


def _tampered(vector: dict[str, Any]) -> list[tuple[str, Request]]:
    request = vector_request(vector)
    parts = urlsplit(request.url)
    cases = [
        ("method", replace(request, method="PUT")),
        ("path", replace(request, url=urlunsplit(parts._replace(path=parts.path + "x")))),
        ("body", replace(request, body=request.body + b"x")),
        ("signature byte", _flip_signature(request, vector)),
        ("time +2h", replace(request, now=request.now + timedelta(hours=2))),
        ("time -2h", replace(request, now=request.now - timedelta(hours=2))),
    ]
    for name in request.headers:
        # A new body with a digest that matches it: only the signature can catch this.
        body = request.body + b"x"
        if name.lower() == "digest":
            digest = sha256_digest_header(body)
        elif name.lower() == "content-digest":
            digest = "sha-256=:" + base64.b64encode(hashlib.sha256(body).digest()).decode() + ":"
        else:
            continue
        cases.append(
            (
                "body and digest",
                replace(request, body=body, headers={**request.headers, name: digest}),
            )
        )
    cases += [(f"header {name}", r) for name, r in _tamper_header(request, vector)]
    return cases


TAMPER_PARAMS = [
    pytest.param(vector, what, id=f"{vector['name']}: {what}")
    for vector in VECTORS
    for what, _ in _tampered(vector)
] or [pytest.param(None, "", marks=pytest.mark.skip(reason=f"{VECTORS_PATH} is absent"))]


@pytest.mark.parametrize(("vector", "what"), TAMPER_PARAMS)
async def test_vector_rejected_when_anything_changes(vector: dict[str, Any], what: str) -> None:
    request = dict(_tampered(vector))[what]
    with pytest.raises(SignatureError):
        await verify(request, KeyStore(_vector_public_pem(vector)))


@pytest.mark.parametrize("vector", VECTOR_PARAMS)
async def test_vector_accepted_within_the_window(vector: dict[str, Any]) -> None:
    request = vector_request(vector)
    for shift in (timedelta(minutes=-59), timedelta(minutes=59)):
        await verify(request, KeyStore(_vector_public_pem(vector)), now=request.now + shift)


# --- round trips ------------------------------------------------------------------------------


async def test_cavage_round_trip_post(rsa_key: rsa.RSAPrivateKey) -> None:
    headers = {"Content-Type": "application/activity+json"}
    added = sign_request(
        "POST", INBOX, headers, BODY, key_id=KEY_ID, private_key_pem=_private_pem(rsa_key), now=NOW
    )
    assert set(added) == {"Host", "Date", "Digest", "Signature"}
    assert added["Host"] == "remote.example"
    assert added["Date"] == "Wed, 01 May 2024 12:00:00 GMT"
    assert added["Digest"] == "SHA-256=" + base64.b64encode(hashlib.sha256(BODY).digest()).decode()
    params = parse_signature_header(added["Signature"])
    assert params["algorithm"] == "rsa-sha256"
    assert params["headers"] == "(request-target) host date digest content-type"
    result = await verify_request(
        "POST", INBOX, {**headers, **added}, BODY, fetch_key=KeyStore(_public_pem(rsa_key)), now=NOW
    )
    assert result == VerifiedSignature(KEY_ID, ACTOR, "draft-cavage")


async def test_cavage_round_trip_get_with_query(rsa_key: rsa.RSAPrivateKey) -> None:
    url = "https://remote.example:8443/users/bob/outbox?page=true"
    added = sign_request(
        "GET", url, {}, None, key_id=KEY_ID, private_key_pem=_private_pem(rsa_key), now=NOW
    )
    assert "Digest" not in added
    assert added["Host"] == "remote.example:8443"
    assert parse_signature_header(added["Signature"])["headers"] == "(request-target) host date"
    await verify_request("GET", url, added, b"", fetch_key=KeyStore(_public_pem(rsa_key)), now=NOW)


async def test_cavage_post_without_content_type(rsa_key: rsa.RSAPrivateKey) -> None:
    added = sign_request(
        "POST", INBOX, {}, BODY, key_id=KEY_ID, private_key_pem=_private_pem(rsa_key), now=NOW
    )
    assert (
        parse_signature_header(added["Signature"])["headers"] == "(request-target) host date digest"
    )
    await verify_request(
        "POST", INBOX, added, BODY, fetch_key=KeyStore(_public_pem(rsa_key)), now=NOW
    )


def test_cavage_signing_refuses_ed25519(ed_key: ed25519.Ed25519PrivateKey) -> None:
    with pytest.raises(ValueError, match="RSA"):
        sign_request(
            "GET", INBOX, {}, None, key_id=KEY_ID, private_key_pem=_private_pem(ed_key), now=NOW
        )


@pytest.mark.parametrize("key_name", ["rsa_key", "ed_key"])
@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_rfc9421_round_trip(
    method: str, key_name: str, request: pytest.FixtureRequest
) -> None:
    key = request.getfixturevalue(key_name)
    body = BODY if method == "POST" else None
    added = sign_request_rfc9421(
        method, INBOX, {}, body, key_id=KEY_ID, private_key_pem=_private_pem(key), now=NOW
    )
    expected = {"Signature-Input", "Signature"} | ({"Content-Digest"} if body else set())
    assert set(added) == expected
    components = (
        '("@method" "@target-uri" "content-digest")' if body else '("@method" "@target-uri")'
    )
    assert added["Signature-Input"] == f'sig1={components};created=1714564800;keyid="{KEY_ID}"'
    result = await verify_request(
        method, INBOX, added, body or b"", fetch_key=KeyStore(_public_pem(key)), now=NOW
    )
    assert result == VerifiedSignature(KEY_ID, ACTOR, "rfc9421")
