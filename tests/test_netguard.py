"""The SSRF guard refuses internal targets and never needs the network to say so.

Every resolver here is a fake (or the system resolver on ``localhost``, which is answered
from /etc/hosts), so no test sends a packet anywhere.
"""

from __future__ import annotations

import ipaddress
import tomllib
from pathlib import Path

import pytest

from fediverse_ai.bot.services import backend_guard
from fediverse_ai.config import Config, parse_config
from fediverse_ai.errors import FetchError, UnsafeURL
from fediverse_ai.netguard import (
    CANNOT_RESOLVE,
    NetGuard,
    is_blocked_domain,
    is_public_address,
    origin_key,
)

PUBLIC_V4 = "93.184.215.14"
PUBLIC_V6 = "2606:2800:21f:cb07:6820:80da:af6b:8b2c"

FAKE_DNS: dict[str, list[str]] = {
    "example.com": [PUBLIC_V4],
    "dual.example": [PUBLIC_V4, PUBLIC_V6],
    "evil.example": ["127.0.0.1"],
    "mixed.example": [PUBLIC_V4, "10.0.0.1"],
    "metadata.example": ["169.254.169.254"],
    "mapped.example": ["::ffff:127.0.0.1"],
    "cgnat.example": ["100.64.0.1"],
    "garbage.example": ["not-an-ip"],
    "empty.example": [],
}


async def fake_resolver(host: str, port: int) -> list[str]:
    """Answers from FAKE_DNS; unknown names fail as NXDOMAIN would."""
    try:
        return FAKE_DNS[host.rstrip(".")]
    except KeyError:
        raise OSError(f"no such host {host}") from None


async def exploding_resolver(host: str, port: int) -> list[str]:
    raise AssertionError("IP literals must be judged without DNS")


GUARD = NetGuard(resolver=fake_resolver)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/",
        "http://127.0.0.1:8080/admin",
        "http://127.0.0.1./",
        "http://10.0.0.1/",
        "http://172.16.5.4/",
        "http://192.168.1.1/",
        "http://169.254.169.254/latest/meta-data/",
        "http://100.64.0.1/",
        "http://0.0.0.0/",
        "http://0/",
        "http://224.0.0.1/",
        "http://240.0.0.1/",
        "http://255.255.255.255/",
        "http://[::1]/",
        "http://[::]/",
        "http://[::ffff:127.0.0.1]/",
        "http://[::ffff:7f00:1]/",
        "http://[::ffff:10.0.0.1]/",
        "http://[::127.0.0.1]/",
        "http://[fe80::1]/",
        "http://[fe80::1%25eth0]/",
        "http://[fc00::1]/",
        "http://[fd12:3456::1]/",
        "http://[fec0::1]/",
        "http://[ff02::1]/",
        "http://[2002:7f00:1::1]/",  # 6to4 wrapping 127.0.0.1
        "http://[2002:a00:1::1]/",  # 6to4 wrapping 10.0.0.1
        "http://[64:ff9b::a00:1]/",  # NAT64 wrapping 10.0.0.1
        "http://[2001:0:4136:e378:8000:63bf:80ff:fffe]/",  # Teredo (client 127.0.0.1)
        "http://2130706433/",  # decimal 127.0.0.1
        "http://0x7f.1/",
        "http://0x7f000001/",
        "http://017700000001/",  # octal
        "http://127.1/",
        "http://10.1/",
        "https://127.0.0.1:443/",
    ],
)
async def test_private_ip_literals_are_refused_without_dns(url: str) -> None:
    guard = NetGuard(resolver=exploding_resolver)
    with pytest.raises(UnsafeURL, match="address is not public"):
        await guard.check_url(url)


@pytest.mark.parametrize(
    "url",
    [
        "http://1.2.3.4.5/",
        "http://999.1.1.1/",
        "http://0177.0.0.1/",  # httpx refuses dotted octal itself
        "http://0x1g.1/",
        "http://[::1::2]/",
    ],
)
async def test_malformed_numeric_hosts_are_refused(url: str) -> None:
    with pytest.raises(UnsafeURL):
        await GUARD.check_url(url)


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://evil.example/", "non-public"),
        ("http://evil.example./", "non-public"),
        ("http://EVIL.example/", "non-public"),
        ("http://mixed.example/", "non-public"),
        ("http://metadata.example/", "non-public"),
        ("http://mapped.example/", "non-public"),
        ("http://cgnat.example/", "non-public"),
        ("http://garbage.example/", "invalid address"),
        ("http://empty.example/", CANNOT_RESOLVE),
        ("http://nxdomain.example/", CANNOT_RESOLVE),
    ],
)
async def test_names_are_judged_by_every_resolved_address(url: str, reason: str) -> None:
    with pytest.raises(UnsafeURL, match=reason):
        await GUARD.check_url(url)


async def test_localhost_via_system_resolver_is_refused() -> None:
    with pytest.raises(UnsafeURL):
        await NetGuard().check_url("http://localhost:8000/")


async def test_unsafe_url_message_does_not_leak_the_address() -> None:
    with pytest.raises(UnsafeURL) as caught:
        await GUARD.check_url("http://evil.example/")
    assert "127.0.0.1" not in caught.value.message
    assert isinstance(caught.value, FetchError)  # callers may catch all fetch failures at once


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("ftp://example.com/file", "only http and https"),
        ("file:///etc/passwd", "only http and https"),
        ("gopher://example.com/", "only http and https"),
        ("javascript:alert(1)", "only http and https"),
        ("example.com/path", "only http and https"),
        ("http:///path", "no host"),
        ("https://", "no host"),
        ("http://user:pass@example.com/", "credentials"),
        ("http://user@example.com/", "credentials"),
        ("http://example.com:0/", "invalid port"),
        ("http://example.com:99999/", "invalid port"),
        ("http://127.0.0.%31/", "invalid host"),
        ("http://exa mple.com/", None),
        ("http://[v1.x]/", "invalid URL"),
        ("", None),
    ],
)
async def test_malformed_or_disallowed_urls_are_refused(url: str, reason: str | None) -> None:
    with pytest.raises(UnsafeURL, match=reason):
        await GUARD.check_url(url)


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com/users/alice",
        "http://example.com:8443/inbox?x=1#frag",
        "https://EXAMPLE.com./",
        "https://dual.example/",
        f"https://{PUBLIC_V4}/",
        f"https://[{PUBLIC_V6}]/",
        "https://[2002:5db8:d70e::1]/",  # 6to4 wrapping the public PUBLIC_V4
    ],
)
async def test_public_targets_pass_without_network(url: str) -> None:
    await GUARD.check_url(url)


async def test_resolver_receives_host_and_effective_port() -> None:
    seen: list[tuple[str, int]] = []

    async def recording(host: str, port: int) -> list[str]:
        seen.append((host, port))
        return [PUBLIC_V4]

    guard = NetGuard(resolver=recording)
    await guard.check_url("https://example.com/a")
    await guard.check_url("http://example.com/a")
    await guard.check_url("http://example.com:8080/a")
    assert seen == [("example.com", 443), ("example.com", 80), ("example.com", 8080)]


async def test_allow_private_lets_loopback_through_without_dns() -> None:
    guard = NetGuard(allow_private=True, resolver=exploding_resolver)
    await guard.check_url("http://127.0.0.1:8080/")
    await guard.check_url("http://[::1]/")
    await guard.check_url("http://localhost/")
    with pytest.raises(UnsafeURL, match="only http and https"):
        await guard.check_url("file:///etc/passwd")
    with pytest.raises(UnsafeURL, match="credentials"):
        await guard.check_url("http://u:p@127.0.0.1/")


@pytest.mark.parametrize("allow_private", [False, True])
@pytest.mark.parametrize(
    "url",
    [
        "https://bad.example/users/x",
        "https://BAD.example./users/x",
        "https://sub.bad.example/users/x",
        "https://deep.sub.bad.example/",
    ],
)
async def test_blocked_domains_are_refused_always(url: str, allow_private: bool) -> None:
    guard = NetGuard(
        allow_private=allow_private,
        blocked_domains=frozenset({"bad.example"}),
        resolver=fake_resolver,
    )
    with pytest.raises(UnsafeURL, match="blocked"):
        await guard.check_url(url)


def test_blocked_domain_matches_whole_labels_only() -> None:
    blocked = frozenset({"bad.example", "Shouty.Example."})
    assert is_blocked_domain("bad.example", blocked)
    assert is_blocked_domain("a.bad.example", blocked)
    assert is_blocked_domain("shouty.example", blocked)
    assert not is_blocked_domain("notbad.example", blocked)
    assert not is_blocked_domain("bad.example.org", blocked)
    assert not is_blocked_domain("example", blocked)
    assert not is_blocked_domain("", blocked)
    assert not is_blocked_domain("bad.example", frozenset())


def test_blocked_domain_matches_idn_in_either_spelling() -> None:
    assert is_blocked_domain("xn--bcher-kva.de", frozenset({"bücher.de"}))
    assert is_blocked_domain("shop.bücher.de", frozenset({"xn--bcher-kva.de"}))


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("8.8.8.8", True),
        (PUBLIC_V4, True),
        (PUBLIC_V6, True),
        ("100.63.255.255", True),
        ("100.64.0.0", False),
        ("100.127.255.255", False),
        ("192.0.2.1", False),  # documentation
        ("198.18.0.1", False),  # benchmarking
        ("::ffff:8.8.8.8", True),
        ("64:ff9b::808:808", True),
        ("::ffff:10.0.0.1", False),
        ("64:ff9b::a00:1", False),
        ("::8.8.8.8", False),  # deprecated IPv4-compatible form
        ("2002:808:808::1", True),
        ("2002:c0a8:101::1", False),  # 6to4 of 192.168.1.1
        ("2001:db8::1", False),
    ],
)
def test_is_public_address(address: str, public: bool) -> None:
    assert is_public_address(ipaddress.ip_address(address)) is public


# --- trusted origins: the operator's AI backends (issue 17) ------------------------------------


async def test_trusted_origins_pass_and_nothing_beside_them() -> None:
    guard = NetGuard(trusted_origins=frozenset({"127.0.0.1:11434", "ollama:11434"}))
    await guard.check_url("http://127.0.0.1:11434/v1/chat/completions")
    await guard.check_url("http://ollama:11434/v1")
    assert await guard.connect_address("127.0.0.1", 11434) == "127.0.0.1"
    for url in (
        "http://127.0.0.1:11435/v1",  # another port of the same host
        "http://127.0.0.2:11434/v1",
        "http://localhost:11434/v1",  # another name for it is not what was configured
        "http://169.254.169.254/latest/meta-data/",
    ):
        with pytest.raises(UnsafeURL):
            await guard.check_url(url)
    with pytest.raises(UnsafeURL):
        await guard.connect_address("127.0.0.1", 6379)


def test_origin_key_spells_host_and_effective_port() -> None:
    assert origin_key("http://127.0.0.1:8080/v1") == "127.0.0.1:8080"
    assert origin_key("https://API.example.com/v1") == "api.example.com:443"
    assert origin_key("http://sd.lan/") == "sd.lan:80"
    assert origin_key("ftp://x/") is None


def load_config_text(text: str) -> Config:
    return parse_config(tomllib.loads(text), base_dir=Path("/tmp"))


def test_the_backend_guard_trusts_only_configured_backends() -> None:
    config = load_config_text(
        """
[ai.text]
backend = "openai"
base_url = "http://127.0.0.1:8080/v1"
[ai.image]
backend = "automatic1111"
base_url = "http://192.168.1.20:7860"
"""
    )
    guard = backend_guard(config, NetGuard())
    assert guard.trusted_origins == {"127.0.0.1:8080", "192.168.1.20:7860"}
    assert not guard.allow_private
    offline = backend_guard(load_config_text(""), NetGuard())
    assert offline.trusted_origins == frozenset()
