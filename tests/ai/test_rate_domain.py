"""The per-domain limit keys on what an attacker cannot mint for free: registrable domains."""

from __future__ import annotations

import pytest

from fediverse_ai.bot.decision import rate_domain


@pytest.mark.parametrize(
    ("actor", "key"),
    [
        ("https://a.wild.example/users/x", "wild.example"),
        ("https://deep.b.wild.example/users/x", "wild.example"),
        ("https://WILD.example./users/x", "wild.example"),
        ("https://mastodon.social/users/x", "mastodon.social"),
        ("https://x.social.co.uk/users/x", "social.co.uk"),
        # Free subdomains of a private suffix are one domain too (ICANN section only).
        ("https://a.duckdns.org/users/x", "duckdns.org"),
        ("https://b.duckdns.org/users/x", "duckdns.org"),
        ("https://bücher.example.de/users/x", "example.de"),
        ("https://xn--bcher-kva.de/u", "xn--bcher-kva.de"),
        ("https://bücher.de/u", "xn--bcher-kva.de"),
        ("http://127.0.0.1:8080/users/x", "127.0.0.1"),
        ("https://[2001:db8::1]/users/x", "2001:db8::/64"),
        ("https://[2001:db8::ffff]/users/y", "2001:db8::/64"),
        ("https://localhost/users/x", "localhost"),
    ],
)
def test_rate_domains(actor: str, key: str) -> None:
    assert rate_domain(actor) == key
