"""Cross-checks against independent implementations.

RFC 9421 both ways against ``http_message_signatures`` (their signer -> our
verifier, our signer -> their verifier), and our Structured Fields parser against
``http_sf`` (the parser that library uses). Times and keys are pinned.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import http_sf
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from http_message_signatures import (
    HTTPMessageSigner,
    HTTPMessageVerifier,
    InvalidSignature,
    MappingKeyResolver,
    algorithms,
)

from fediverse_ai.errors import SignatureError
from fediverse_ai.httpsig import ResolvedKey, sign_request_rfc9421, verify_request
from fediverse_ai.httpsig_sf import StructuredFieldError, parse_dictionary, serialize_dictionary

NOW = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
KEY_ID = "https://example.org/users/ai#main-key"
ACTOR = "https://example.org/users/ai"
INBOX = "https://remote.example/users/bob/inbox"
BODY = b'{"type":"Follow","actor":"https://example.org/users/ai"}'

Key = rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey


@dataclass
class Message:
    """The request shape http_message_signatures signs and verifies."""

    method: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def ed_key() -> ed25519.Ed25519PrivateKey:
    return ed25519.Ed25519PrivateKey.from_private_bytes(bytes(range(32, 64)))


def public_pem(key: Key) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def private_pem(key: Key) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def fetcher(key: Key) -> Any:
    async def fetch_key(key_id: str, refresh: bool) -> ResolvedKey:
        return ResolvedKey(key_id, ACTOR, public_pem(key).decode())

    return fetch_key


# --- their signer -> our verifier -------------------------------------------------------------


THEIR_CASES = [
    pytest.param(
        "rsa",
        algorithms.RSA_V1_5_SHA256,
        "GET",
        INBOX,
        ("@method", "@target-uri"),
        {},
        id="rsa GET",
    ),
    pytest.param(
        "rsa",
        algorithms.RSA_V1_5_SHA256,
        "POST",
        INBOX,
        ("@method", "@target-uri", "@authority", "content-type"),
        {"expires": NOW + timedelta(minutes=5), "nonce": "n-1", "tag": "activitypub"},
        id="rsa POST with expires, nonce, tag",
    ),
    pytest.param(
        "ed",
        algorithms.ED25519,
        "GET",
        "https://remote.example:8443/users/bob/outbox?page=2&x=%20y",
        ("@method", "@target-uri", "@scheme", "@path", "@query", "@request-target", "accept"),
        {},
        id="ed25519 GET with every derived component",
    ),
    pytest.param(
        "rsa",
        algorithms.RSA_PSS_SHA512,
        "POST",
        INBOX,
        ("@method", "@target-uri"),
        {},
        id="rsa-pss POST",
    ),
]


@pytest.mark.parametrize(
    ("key_name", "algorithm", "method", "url", "components", "extra"), THEIR_CASES
)
async def test_their_signer_our_verifier(
    request: pytest.FixtureRequest,
    key_name: str,
    algorithm: Any,
    method: str,
    url: str,
    components: tuple[str, ...],
    extra: dict[str, Any],
) -> None:
    key = request.getfixturevalue(f"{key_name}_key")
    body = BODY if method == "POST" else None
    message = Message(
        method,
        url,
        {"Content-Type": "application/activity+json", "Accept": "application/activity+json"},
    )
    signer = HTTPMessageSigner(
        signature_algorithm=algorithm,
        key_resolver=MappingKeyResolver(public_keys={}, private_keys={KEY_ID: private_pem(key)}),
    )
    signer.sign(
        message, key_id=KEY_ID, created=NOW, covered_component_ids=components, body=body, **extra
    )
    assert "Signature-Input" in message.headers
    result = await verify_request(
        method, url, message.headers, body or b"", fetch_key=fetcher(key), now=NOW
    )
    assert (result.key_id, result.owner, result.scheme) == (KEY_ID, ACTOR, "rfc9421")
    if body is not None:
        with pytest.raises(SignatureError, match="digest mismatch"):
            await verify_request(
                method, url, message.headers, body + b" ", fetch_key=fetcher(key), now=NOW
            )
    with pytest.raises(SignatureError, match="signature does not match"):
        await verify_request(
            method, url + "x", message.headers, body or b"", fetch_key=fetcher(key), now=NOW
        )


# --- our signer -> their verifier -------------------------------------------------------------


@pytest.mark.parametrize(
    ("key_name", "algorithm"),
    [("rsa", algorithms.RSA_V1_5_SHA256), ("ed", algorithms.ED25519)],
)
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_our_signer_their_verifier(
    request: pytest.FixtureRequest, key_name: str, algorithm: Any, method: str
) -> None:
    key = request.getfixturevalue(f"{key_name}_key")
    body = BODY if method == "POST" else None
    url = "https://remote.example/users/bob/inbox?x=1"
    added = sign_request_rfc9421(
        method, url, {}, body, key_id=KEY_ID, private_key_pem=private_pem(key).decode(), now=NOW
    )
    verifier = HTTPMessageVerifier(
        signature_algorithm=algorithm,
        key_resolver=MappingKeyResolver(public_keys={KEY_ID: public_pem(key)}, private_keys={}),
    )
    required = ("@method", "@target-uri", "content-digest") if body else ("@method", "@target-uri")
    message = Message(method, url, dict(added))
    (result,) = verifier.verify(message, max_age=None, require_components=required, body=body)
    assert result.parameters == {"created": int(NOW.timestamp()), "keyid": KEY_ID}
    assert result.body == body
    with pytest.raises(InvalidSignature):
        verifier.verify(Message(method, url + "&y=2", dict(added)), max_age=None)
    if body is not None:
        with pytest.raises(InvalidSignature):
            verifier.verify(message, max_age=None, body=body + b" ")


# --- Structured Fields ------------------------------------------------------------------------


VALID_FIELDS = [
    'sig1=("@method" "@target-uri" "content-digest");created=1703066400;keyid="https://a/b#k"',
    'sig1=("@method" "x";sf "y";key="a");created=1;expires=2;nonce="a\\"b\\\\c";'
    'alg="ed25519";tag=tok',
    "sig1=:dGVzdA==:, sig2=:AAEC:;p=?0",
    "a, b;x=?1, c=?0, d=-12, e=3.141, f=1.50, g=(), h=(1 2);q",
    "  a=1  ,\tb=2",
    "a=1, a=2, b=3",
    "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:, sha-512=:AAAA:",
    "tok=text/html;q=0.9, star=*foo:bar/baz",
]

INVALID_FIELDS = [
    "a=1,",
    "a=(1 2",
    "A=1",
    'a="\\x"',
    "a=:!!:",
    "a=1.2345",
    "a=1234567890123456",
    "a=?2",
    "a=1;",
    "a=(1)x",
    'a="tab\there"',
    "a=1 b=2",
    "a=-",
]


@pytest.mark.parametrize("text", VALID_FIELDS)
def test_sf_dictionary_matches_http_sf(text: str) -> None:
    ours = serialize_dictionary(parse_dictionary(text))
    theirs = http_sf.ser(http_sf.parse(text.encode(), tltype="dictionary"))
    assert ours == theirs


def test_sf_empty_dictionary() -> None:
    assert parse_dictionary("  ") == http_sf.parse(b"  ", tltype="dictionary") == {}


@pytest.mark.parametrize("text", INVALID_FIELDS)
def test_sf_dictionary_rejects_what_http_sf_rejects(text: str) -> None:
    with pytest.raises(http_sf.StructuredFieldError):
        http_sf.parse(text.encode(), tltype="dictionary")
    with pytest.raises(StructuredFieldError):
        parse_dictionary(text)
