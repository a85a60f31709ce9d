"""RFC 9421 verification rules, one broken at a time.

Signatures are made over hand-written signature bases (``sign_base`` below), as a
peer would, so that each test can break exactly one rule. Times and keys are pinned.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa

from fediverse_ai.errors import MalformedSignature, SignatureError
from fediverse_ai.httpsig import (
    ResolvedKey,
    VerifiedSignature,
    sign_request_rfc9421,
    verify_request,
)

NOW = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
CREATED = int(NOW.timestamp())
KEY_ID = "https://example.org/users/ai#main-key"
ACTOR = "https://example.org/users/ai"
INBOX = "https://remote.example/users/bob/inbox"
BODY = b'{"type":"Create","actor":"https://example.org/users/ai"}'
GET_LINES = ['"@method": GET', f'"@target-uri": {INBOX}']
Key = rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def ed_key() -> ed25519.Ed25519PrivateKey:
    return ed25519.Ed25519PrivateKey.from_private_bytes(bytes(range(32)))


def public_pem(key: Key) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def private_pem(key: Key) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


class KeyStore:
    """A ``fetch_key`` that records its calls; ``stale`` is what its cache would answer."""

    def __init__(self, fresh: str, stale: str | None = None) -> None:
        self.fresh, self.stale = fresh, stale
        self.calls: list[tuple[str, bool]] = []

    async def __call__(self, key_id: str, refresh: bool) -> ResolvedKey:
        self.calls.append((key_id, refresh))
        pem = self.fresh if refresh or self.stale is None else self.stale
        return ResolvedKey(key_id=key_id, owner=ACTOR, public_key_pem=pem)


def sign_base(
    key: Key, signature_input: str, lines: list[str], label: str = "sig1"
) -> dict[str, str]:
    """Sign a hand-written signature base; ``signature_input`` is ``label=(...)...``."""
    params = signature_input.split("=", 1)[1]
    base = "\n".join([*lines, f'"@signature-params": {params}']).encode()
    if isinstance(key, rsa.RSAPrivateKey):
        raw = key.sign(base, padding.PKCS1v15(), hashes.SHA256())
    else:
        raw = key.sign(base)
    return {
        "Signature-Input": signature_input,
        "Signature": f"{label}=:{base64.b64encode(raw).decode()}:",
    }


async def accept(
    headers: dict[str, str], key: Key, *, method: str = "GET", body: bytes = b"", url: str = INBOX
) -> VerifiedSignature:
    return await verify_request(
        method, url, headers, body, fetch_key=KeyStore(public_pem(key)), now=NOW
    )


@pytest.mark.parametrize(
    ("params", "reason"),
    [
        (f'keyid="{KEY_ID}"', "no created"),
        (f"created={CREATED}", "no keyid"),
        (f'created={CREATED - 3601};keyid="{KEY_ID}"', "signature time outside"),
        (f'created={CREATED + 3601};keyid="{KEY_ID}"', "signature time outside"),
        (f'created={CREATED};expires={CREATED - 1};keyid="{KEY_ID}"', "signature expired"),
        (f'created={CREATED};keyid="{KEY_ID}";alg="hmac-sha256"', "no supported signature"),
        (f'created={CREATED};keyid="{KEY_ID}";alg="ed25519"', "algorithm does not match the key"),
    ],
)
async def test_signature_parameters(rsa_key: rsa.RSAPrivateKey, params: str, reason: str) -> None:
    headers = sign_base(rsa_key, f'sig1=("@method" "@target-uri");{params}', GET_LINES)
    with pytest.raises(SignatureError, match=reason):
        await accept(headers, rsa_key)


@pytest.mark.parametrize(
    ("components", "lines", "reason"),
    [
        ('"@method"', GET_LINES[:1], "@target-uri not signed"),
        ('"@target-uri"', GET_LINES[1:], "@method not signed"),
        (
            '"@method" "@target-uri" "x-missing"',
            [*GET_LINES, '"x-missing": 1'],
            "covered header x-missing missing",
        ),
        (
            '"@method" "@target-uri" "@status"',
            [*GET_LINES, '"@status": 200'],
            "unsupported component @status",
        ),
        (
            '"@method" "@target-uri" "accept";sf',
            [*GET_LINES, '"accept";sf: a'],
            "unsupported parameters",
        ),
    ],
)
async def test_coverage(
    rsa_key: rsa.RSAPrivateKey, components: str, lines: list[str], reason: str
) -> None:
    headers = sign_base(rsa_key, f'sig1=({components});created={CREATED};keyid="{KEY_ID}"', lines)
    with pytest.raises(SignatureError, match=reason):
        await accept({**headers, "Accept": "a"}, rsa_key)


async def test_post_must_cover_content_digest(rsa_key: rsa.RSAPrivateKey) -> None:
    signature_input = f'sig1=("@method" "@target-uri");created={CREATED};keyid="{KEY_ID}"'
    headers = sign_base(rsa_key, signature_input, ['"@method": POST', f'"@target-uri": {INBOX}'])
    with pytest.raises(SignatureError, match="content-digest not signed"):
        await accept(headers, rsa_key, method="POST", body=BODY)


async def test_content_digest_must_match(rsa_key: rsa.RSAPrivateKey) -> None:
    added = sign_request_rfc9421(
        "POST", INBOX, {}, BODY, key_id=KEY_ID, private_key_pem=private_pem(rsa_key), now=NOW
    )
    await accept(added, rsa_key, method="POST", body=BODY)
    with pytest.raises(SignatureError, match="digest mismatch"):
        await accept(added, rsa_key, method="POST", body=BODY + b"!")


async def test_sha512_content_digest(rsa_key: rsa.RSAPrivateKey) -> None:
    digest = "sha-512=:" + base64.b64encode(hashlib.sha512(BODY).digest()).decode() + ":"
    signature_input = (
        f'sig1=("@method" "@target-uri" "content-digest");created={CREATED};keyid="{KEY_ID}"'
    )
    lines = ['"@method": POST', f'"@target-uri": {INBOX}', f'"content-digest": {digest}']
    headers = {**sign_base(rsa_key, signature_input, lines), "Content-Digest": digest}
    await accept(headers, rsa_key, method="POST", body=BODY)
    with pytest.raises(SignatureError, match="digest mismatch"):
        await accept(headers, rsa_key, method="POST", body=b"{}")


async def test_first_supported_label_wins(rsa_key: rsa.RSAPrivateKey) -> None:
    good = sign_base(
        rsa_key,
        f'sig2=("@method" "@target-uri");created={CREATED};keyid="{KEY_ID}"',
        GET_LINES,
        "sig2",
    )
    unsupported = f'sig1=("@method");created={CREATED};keyid="x";alg="hmac-sha256"'
    headers = {
        "Signature-Input": f"{unsupported}, {good['Signature-Input']}",
        "Signature": f"sig1=:AAAA:, {good['Signature']}",
    }
    assert (await accept(headers, rsa_key)).scheme == "rfc9421"


async def test_derived_components_and_fields(ed_key: ed25519.Ed25519PrivateKey) -> None:
    url = "https://Remote.Example:443/users/bob/inbox?a=1&b=%20"
    components = (
        '"@method" "@target-uri" "@authority" "@scheme" "@path" "@query" "@request-target" "accept"'
    )
    signature_input = f'sig1=({components});created={CREATED};keyid="{KEY_ID}";nonce="abc";tag="ap"'
    lines = [
        '"@method": GET',
        '"@target-uri": https://remote.example/users/bob/inbox?a=1&b=%20',
        '"@authority": remote.example',
        '"@scheme": https',
        '"@path": /users/bob/inbox',
        '"@query": ?a=1&b=%20',
        '"@request-target": /users/bob/inbox?a=1&b=%20',
        '"accept": application/activity+json',
    ]
    headers = {**sign_base(ed_key, signature_input, lines), "Accept": " application/activity+json "}
    assert (await accept(headers, ed_key, method="get", url=url)).owner == ACTOR


async def test_stale_key_is_refetched_once(
    rsa_key: rsa.RSAPrivateKey, ed_key: ed25519.Ed25519PrivateKey
) -> None:
    added = sign_request_rfc9421(
        "GET", INBOX, {}, None, key_id=KEY_ID, private_key_pem=private_pem(rsa_key), now=NOW
    )
    keys = KeyStore(fresh=public_pem(rsa_key), stale=public_pem(ed_key))
    await verify_request("GET", INBOX, added, b"", fetch_key=keys, now=NOW)
    assert keys.calls == [(KEY_ID, False), (KEY_ID, True)]


@pytest.mark.parametrize(
    "signature_input",
    [
        'sig1=("@method" "@target-uri"',
        "sig1=(@method);created=1",
        'SIG=("@method")',
        'sig1=("@method");created=1.',
        f'sig1=("@method" "@target-uri");created={CREATED};keyid="{KEY_ID}";expires=soon',
    ],
)
async def test_malformed(rsa_key: rsa.RSAPrivateKey, signature_input: str) -> None:
    with pytest.raises(MalformedSignature):
        await accept({"Signature-Input": signature_input, "Signature": "sig1=:AAAA:"}, rsa_key)
