"""draft-cavage verification rules, one broken at a time, and the key refetch rule.

Requests are signed by a small independent signer (``cavage`` below) so that each
test can break exactly one rule. Times and keys are pinned.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa

from fediverse_ai.errors import MalformedSignature, SignatureError
from fediverse_ai.httpsig import (
    ResolvedKey,
    VerifiedSignature,
    sha256_digest_header,
    sign_request,
    verify_request,
)

NOW = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
KEY_ID = "https://example.org/users/ai#main-key"
ACTOR = "https://example.org/users/ai"
INBOX = "https://remote.example/users/bob/inbox"
BODY = b'{"type":"Create","actor":"https://example.org/users/ai"}'
POST_SIGNED = "(request-target) host date digest"
Key = rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey


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


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def other_rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def ed_key() -> ed25519.Ed25519PrivateKey:
    return ed25519.Ed25519PrivateKey.from_private_bytes(bytes(range(32)))


class KeyStore:
    """A ``fetch_key`` that records its calls; ``stale`` is what its cache would answer."""

    def __init__(self, fresh: str, stale: str | None = None) -> None:
        self.fresh, self.stale = fresh, stale
        self.calls: list[tuple[str, bool]] = []

    async def __call__(self, key_id: str, refresh: bool) -> ResolvedKey:
        self.calls.append((key_id, refresh))
        pem = self.fresh if refresh or self.stale is None else self.stale
        return ResolvedKey(key_id=key_id, owner=ACTOR, public_key_pem=pem)


def date_header(moment: datetime = NOW) -> str:
    return moment.strftime("%a, %d %b %Y %H:%M:%S GMT")


def cavage(
    key: Key,
    signed: str,
    headers: dict[str, str],
    *,
    method: str = "POST",
    url: str = INBOX,
    algorithm: str | None = "rsa-sha256",
    extra: dict[str, int] | None = None,
    target: str | None = None,
) -> dict[str, str]:
    """An independent draft-cavage signer: returns ``headers`` plus a Signature."""
    parts = urlsplit(url)
    if target is None:
        target = parts.path + (f"?{parts.query}" if parts.query else "")
    values = {k.lower(): v for k, v in headers.items()}
    values["(request-target)"] = f"{method.lower()} {target}"
    values.update({f"({k})": str(v) for k, v in (extra or {}).items()})
    data = "\n".join(f"{name}: {values[name]}" for name in signed.split()).encode()
    if isinstance(key, rsa.RSAPrivateKey):
        raw = key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    else:
        raw = key.sign(data)
    params = [f'keyId="{KEY_ID}"']
    if algorithm is not None:
        params.append(f'algorithm="{algorithm}"')
    params += [f"{k}={v}" for k, v in (extra or {}).items()]
    params += [f'headers="{signed}"', f'signature="{base64.b64encode(raw).decode()}"']
    return {**headers, "Signature": ",".join(params)}


async def accept(
    headers: dict[str, str] | list[tuple[str, str]],
    key: Key,
    *,
    method: str = "POST",
    body: bytes = BODY,
    url: str = INBOX,
) -> VerifiedSignature:
    return await verify_request(
        method, url, headers, body, fetch_key=KeyStore(public_pem(key)), now=NOW
    )


async def reject(
    reason: str,
    headers: dict[str, str],
    key: Key,
    *,
    method: str = "POST",
    body: bytes = BODY,
    url: str = INBOX,
) -> None:
    with pytest.raises(SignatureError, match=reason):
        await accept(headers, key, method=method, body=body, url=url)


@pytest.fixture
def post_headers() -> dict[str, str]:
    return {"Host": "remote.example", "Date": date_header(), "Digest": sha256_digest_header(BODY)}


# --- parsing ----------------------------------------------------------------------------------


async def test_missing_signature(rsa_key: rsa.RSAPrivateKey, post_headers: dict[str, str]) -> None:
    await reject("^missing signature$", post_headers, rsa_key)


@pytest.mark.parametrize(
    "header",
    [
        'keyId="k",signature=',
        'keyId="k"',
        'keyId="k",signature="%%%"',
        "garbage",
        'keyId="a",keyId="b",signature="AA=="',
        'keyId="k",signature="AA==",created=soon,headers="(request-target) (created) digest"',
    ],
)
async def test_malformed_signature_header(rsa_key: rsa.RSAPrivateKey, header: str) -> None:
    with pytest.raises(MalformedSignature):
        await accept({"Signature": header, "Date": date_header()}, rsa_key)


async def test_authorization_header_and_missing_algorithm(
    rsa_key: rsa.RSAPrivateKey, post_headers: dict[str, str]
) -> None:
    signed = cavage(rsa_key, POST_SIGNED, post_headers, algorithm=None)
    headers = {**post_headers, "Authorization": "Signature " + signed["Signature"]}
    assert (await accept(headers, rsa_key)).scheme == "draft-cavage"


async def test_headers_any_case_as_pairs_and_repeated(
    rsa_key: rsa.RSAPrivateKey, post_headers: dict[str, str]
) -> None:
    headers = {**post_headers, "Accept": "application/activity+json, application/ld+json"}
    signed = cavage(rsa_key, POST_SIGNED + " accept", headers)
    pairs = [(k.upper(), v) for k, v in signed.items() if k != "Accept"]
    pairs += [("accept", "application/activity+json"), ("ACCEPT", " application/ld+json ")]
    assert (await accept(pairs, rsa_key)).owner == ACTOR


# --- coverage, digest and time ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("signed", "method", "reason"),
    [
        ("(request-target) host digest", "POST", r"date or \(created\) not signed"),
        ("host date", "GET", r"\(request-target\) not signed"),
        ("(request-target) date", "GET", "host not signed"),
        ("(request-target) host date", "POST", "digest not signed"),
    ],
)
async def test_coverage_rules(
    rsa_key: rsa.RSAPrivateKey, post_headers: dict[str, str], signed: str, method: str, reason: str
) -> None:
    headers = cavage(rsa_key, signed, post_headers, method=method)
    await reject(reason, headers, rsa_key, method=method, body=BODY if method == "POST" else b"")


async def test_digest_without_request_target_is_enough(
    rsa_key: rsa.RSAPrivateKey, post_headers: dict[str, str]
) -> None:
    await accept(cavage(rsa_key, "host date digest", post_headers), rsa_key)


async def test_digest_must_match_body(
    rsa_key: rsa.RSAPrivateKey, post_headers: dict[str, str]
) -> None:
    await reject("digest mismatch", cavage(rsa_key, POST_SIGNED, post_headers), rsa_key, body=b"{}")
    md5_only = cavage(rsa_key, POST_SIGNED, {**post_headers, "Digest": "MD5=abc"})
    await reject("unsupported digest algorithm", md5_only, rsa_key)
    no_digest = cavage(rsa_key, POST_SIGNED, post_headers)
    del no_digest["Digest"]
    await reject("digest header missing", no_digest, rsa_key)


async def test_content_digest_accepted_in_cavage(rsa_key: rsa.RSAPrivateKey) -> None:
    digest = "sha-512=:" + base64.b64encode(hashlib.sha512(BODY).digest()).decode() + ":"
    headers = {"Host": "remote.example", "Date": date_header(), "Content-Digest": digest}
    signed = cavage(rsa_key, "(request-target) host date content-digest", headers)
    await accept(signed, rsa_key)
    await reject("digest mismatch", signed, rsa_key, body=b"{}")


@pytest.mark.parametrize("shift", [timedelta(hours=-1, seconds=-1), timedelta(hours=1, seconds=1)])
async def test_date_window(
    rsa_key: rsa.RSAPrivateKey, post_headers: dict[str, str], shift: timedelta
) -> None:
    signed = cavage(rsa_key, POST_SIGNED, {**post_headers, "Date": date_header(NOW + shift)})
    await reject("date outside the accepted window", signed, rsa_key)


async def test_date_must_parse(rsa_key: rsa.RSAPrivateKey, post_headers: dict[str, str]) -> None:
    signed = cavage(rsa_key, POST_SIGNED, {**post_headers, "Date": "yesterday"})
    await reject("date header missing or invalid", signed, rsa_key)


async def test_created_and_expires(
    rsa_key: rsa.RSAPrivateKey, post_headers: dict[str, str]
) -> None:
    created = int(NOW.timestamp())

    def sign(created_at: int, expires_at: int, algorithm: str | None = "hs2019") -> dict[str, str]:
        extra = {"created": created_at, "expires": expires_at}
        signed = "(request-target) (created) (expires) host digest"
        return cavage(rsa_key, signed, post_headers, algorithm=algorithm, extra=extra)

    await accept(sign(created, created + 300), rsa_key)
    await accept(sign(created, created + 300, algorithm=None), rsa_key)
    await reject("signature expired", sign(created - 600, created - 1), rsa_key)
    await reject("signature time outside", sign(created + 7200, created + 9000), rsa_key)
    await reject(
        "cannot be used with rsa-sha256", sign(created, created + 300, "rsa-sha256"), rsa_key
    )


# --- what was signed --------------------------------------------------------------------------


async def test_request_target_with_or_without_query(rsa_key: rsa.RSAPrivateKey) -> None:
    url = "https://remote.example/users/bob/outbox?page=2"
    headers = {"Host": "remote.example", "Date": date_header()}
    for target in ("/users/bob/outbox?page=2", "/users/bob/outbox", "/users/bob/outbox?page=3"):
        signed = cavage(
            rsa_key, "(request-target) host date", headers, method="GET", url=url, target=target
        )
        if target.endswith("3"):
            await reject(
                "signature does not match", signed, rsa_key, method="GET", body=b"", url=url
            )
        else:
            await accept(signed, rsa_key, method="GET", body=b"", url=url)


async def test_signed_header_must_be_present(
    rsa_key: rsa.RSAPrivateKey, post_headers: dict[str, str]
) -> None:
    headers = {**post_headers, "Content-Type": "application/activity+json"}
    signed = cavage(rsa_key, POST_SIGNED + " content-type", headers)
    del signed["Content-Type"]
    await reject("signed header content-type missing", signed, rsa_key)


async def test_host_from_url_behind_a_proxy(
    rsa_key: rsa.RSAPrivateKey, post_headers: dict[str, str]
) -> None:
    """The proxy rewrote Host; the URL the web layer rebuilt still says what the client signed."""
    proxied = {**cavage(rsa_key, POST_SIGNED, post_headers), "Host": "127.0.0.1:8000"}
    await accept(proxied, rsa_key)
    del proxied["Host"]  # HTTP/2 has no Host header at all
    await accept(proxied, rsa_key)
    await reject(
        "signature does not match", proxied, rsa_key, url="https://other.example/users/bob/inbox"
    )


# --- algorithms -------------------------------------------------------------------------------


async def test_hs2019_with_ed25519(
    ed_key: ed25519.Ed25519PrivateKey, post_headers: dict[str, str]
) -> None:
    await accept(cavage(ed_key, POST_SIGNED, post_headers, algorithm="hs2019"), ed_key)


async def test_unsupported_algorithm(
    rsa_key: rsa.RSAPrivateKey, post_headers: dict[str, str]
) -> None:
    signed = cavage(rsa_key, POST_SIGNED, post_headers, algorithm="hmac-sha256")
    await reject("unsupported signature algorithm", signed, rsa_key)


async def test_rsa_sha256_refuses_an_ed25519_key(
    ed_key: ed25519.Ed25519PrivateKey, post_headers: dict[str, str]
) -> None:
    signed = cavage(ed_key, POST_SIGNED, post_headers, algorithm="rsa-sha256")
    await reject("algorithm does not match the key", signed, ed_key)


# --- key refetch ------------------------------------------------------------------------------


def signed_post(key: rsa.RSAPrivateKey) -> dict[str, str]:
    return sign_request(
        "POST", INBOX, {}, BODY, key_id=KEY_ID, private_key_pem=private_pem(key), now=NOW
    )


async def test_stale_cached_key_is_refetched_once(
    rsa_key: rsa.RSAPrivateKey, other_rsa_key: rsa.RSAPrivateKey
) -> None:
    keys = KeyStore(fresh=public_pem(rsa_key), stale=public_pem(other_rsa_key))
    result = await verify_request(
        "POST", INBOX, signed_post(rsa_key), BODY, fetch_key=keys, now=NOW
    )
    assert result == VerifiedSignature(KEY_ID, ACTOR, "draft-cavage")
    assert keys.calls == [(KEY_ID, False), (KEY_ID, True)]


async def test_good_cached_key_is_not_refetched(rsa_key: rsa.RSAPrivateKey) -> None:
    keys = KeyStore(fresh=public_pem(rsa_key))
    await verify_request("POST", INBOX, signed_post(rsa_key), BODY, fetch_key=keys, now=NOW)
    assert keys.calls == [(KEY_ID, False)]


@pytest.mark.parametrize("stale_kind", ["same key", "ed25519 key"])
async def test_wrong_key_is_refetched_only_once(
    rsa_key: rsa.RSAPrivateKey,
    other_rsa_key: rsa.RSAPrivateKey,
    ed_key: ed25519.Ed25519PrivateKey,
    stale_kind: str,
) -> None:
    stale = public_pem(other_rsa_key) if stale_kind == "same key" else public_pem(ed_key)
    keys = KeyStore(fresh=public_pem(other_rsa_key), stale=stale)
    with pytest.raises(SignatureError, match="signature does not match"):
        await verify_request("POST", INBOX, signed_post(rsa_key), BODY, fetch_key=keys, now=NOW)
    assert keys.calls == [(KEY_ID, False), (KEY_ID, True)]


async def test_fetch_key_failure_propagates(rsa_key: rsa.RSAPrivateKey) -> None:
    async def unresolvable(key_id: str, refresh: bool) -> ResolvedKey:
        raise SignatureError("could not fetch the signer's key")

    with pytest.raises(SignatureError, match="could not fetch"):
        await verify_request(
            "POST", INBOX, signed_post(rsa_key), BODY, fetch_key=unresolvable, now=NOW
        )


async def test_junk_never_triggers_a_key_fetch(
    rsa_key: rsa.RSAPrivateKey, post_headers: dict[str, str]
) -> None:
    keys = KeyStore(public_pem(rsa_key))
    signed = cavage(rsa_key, POST_SIGNED, post_headers)
    with pytest.raises(SignatureError):
        await verify_request("POST", INBOX, signed, b"tampered", fetch_key=keys, now=NOW)
    assert keys.calls == []
