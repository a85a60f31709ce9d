"""Values for the web fuzzer's fields and path parameters, by kind: plausible most of the time,
hostile otherwise, and images (real ones from Pillow, broken ones) for the upload fields."""

from __future__ import annotations

import io
import random
from functools import cache

from PIL import Image

from .mutate import HOSTILE_TEXT
from .peer import _bomb_png

NUMBERS = ("1", "2", "3", "0", "-1", "99999999999999999999999", "1e3", "", "abc", " 1", "0x10")

PLAUSIBLE: dict[str, tuple[str, ...]] = {
    "number": ("1", "2", "true", "5"),
    "cursor": ("1", "12", "1700000000", "abc=="),
    "next": ("/home", "/notifications", "/@carol", "/"),
    "username": ("carol", "ai", "root"),
    "text": ("hello world", "@ai what is 2+2?", "#art post", "a <b>bold</b> claim"),
    "visibility": ("public", "unlisted", "followers", "direct"),
    "language": ("en", "de", "ja"),
    "prompt": ("",),
    # Mostly no parent: a reply to a post that is not there ends the request at a 404.
    "note_ref": ("",) * 8,
    "flag": ("1", "0"),
    "compose_action": ("", "post", "suggest"),
    "follow_op": ("follow", "unfollow"),
    "backend_kind": ("text", "image"),
    "domain": ("evil.test", "spam.example", "127.0.0.2"),
    "note_action": ("like", "unlike", "boost", "unboost", "delete"),
    "answer": ("approve", "reject"),
    "relation_action": ("block", "unblock", "mute", "unmute"),
    "moderation_action": ("suspend", "unsuspend", "silence", "unsilence"),
    "version": ("2.0", "2.1"),
    "collection": ("followers", "following", "outbox"),
    "tag": ("art", "nobot"),
    "shortcode": ("blobcat", ":blobcat:", "party_parrot"),
    "blurhash": ("LEHV6nWB2yk8pyo0adR*.7kCMdnj", "00ff"),
    "file": ("avatar.png", "style.css", "a.png"),
    "note": ("1", "2", "3", "4", "5", "6"),
    "status": ("1", "2", "abc"),
    "actor": ("1", "2", "3", "4"),
    "report": ("1", "2"),
    "api_status_action": (
        "favourite",
        "unfavourite",
        "reblog",
        "unreblog",
        "bookmark",
        "unbookmark",
        "pin",
        "unpin",
    ),
    "api_who": ("favourited_by", "reblogged_by", "context", "history", "source"),
    "api_timeline": ("home", "notifications", "public"),
    "api_account_action": ("follow", "unfollow", "block", "mute"),
    "api_account_kind": ("followers", "following", "statuses", "featured_tags"),
    "api_visibility": ("public", "unlisted", "private", "direct"),
    "scopes": ("read", "read write", "read write follow push", "read:statuses", "admin:read"),
    "grant_type": ("authorization_code", "client_credentials", "refresh_token", "password"),
    "redirect": ("urn:ietf:wg:oauth:2.0:oob", "https://app.test/cb", "tusky://oauth"),
}

HOSTILE: dict[str, tuple[str, ...]] = {
    "number": NUMBERS,
    "cursor": NUMBERS,
    "note": ("0", "-1", "99999999999999999999999", "9223372036854775808", "1.5", "x"),
    "actor": ("0", "99999999999999999999999", "9223372036854775807"),
    "report": ("0", "99999999999999999999999"),
    "next": (
        "//evil.test/x", "https://evil.test/", "javascript:alert(1)", "/\\evil.test",
        "\\\\evil.test", "/%2F%2Fevil.test", "http:evil.test", "\x00/home",
    ),
    "handle": (
        "@nobody@127.0.0.1:1", "a@b@c", "@", "acct:", "http://127.0.0.1:1/users/x",
        "https://[::ffff:127.0.0.1]:1/", "@x@2130706433:1", "ftp://127.0.0.1/", "@ai",
    ),
    "domain": ("", ".", "..", "-", "a" * 300, "*.evil.test", "xn--", "127.0.0.1", "[::1]"),
    "file": ("..", "../../etc/passwd", "%2e%2e%2fkeys", ".hidden", "a" * 300 + ".png"),
    "shortcode": ("", "a" * 65, 'x" onerror="alert(1)', "../keys", "é", ":"),
}  # fmt: skip


def value(kind: str, rng: random.Random, extra: dict[str, tuple[str, ...]]) -> str:
    """A value of ``kind``: from ``extra`` (live ids, handles) or the plausible ones mostly."""
    plausible = extra.get(kind, ()) + PLAUSIBLE.get(kind, ())
    roll = rng.random()
    if plausible and roll < 0.75:
        return rng.choice(plausible)
    if roll < 0.9 and kind in HOSTILE:
        return rng.choice(HOSTILE[kind])
    hostile = rng.choice(HOSTILE_TEXT)
    if rng.random() < 0.1:
        return hostile + "x" * rng.choice([5000, 20_000])
    return hostile if rng.random() < 0.5 or not plausible else rng.choice(plausible) + hostile


def _encoded(image: Image.Image, kind: str) -> bytes:
    out = io.BytesIO()
    image.save(out, kind)
    return out.getvalue()


@cache
def uploads() -> tuple[tuple[str, str, bytes], ...]:
    """(file name, content type, bytes) an upload field may carry, good and bad."""
    png = _encoded(Image.new("RGB", (40, 30), "green"), "PNG")
    return (
        ("photo.png", "image/png", png),
        ("photo.jpg", "image/jpeg", _encoded(Image.new("RGB", (50, 20), "blue"), "JPEG")),
        ("anim.gif", "image/gif", _encoded(Image.new("P", (10, 10)), "GIF")),
        ("pic.webp", "image/webp", _encoded(Image.new("RGBA", (12, 12)), "WEBP")),
        ("old.bmp", "image/bmp", _encoded(Image.new("RGB", (8, 8)), "BMP")),
        ("cmyk.jpg", "image/jpeg", _encoded(Image.new("CMYK", (16, 16)), "JPEG")),
        ("truncated.png", "image/png", png[: len(png) // 2]),
        ("empty.png", "image/png", b""),
        ("bomb.png", "image/png", _bomb_png(60_000, 60_000)),
        ("wide.png", "image/png", _bomb_png(1_000_000, 1)),
        ("png.txt", "text/plain", png),
        ("x.svg", "image/svg+xml", b'<svg xmlns="http://www.w3.org/2000/svg"><script/></svg>'),
        ("noise.png", "image/png", bytes(range(256)) * 64),
        ("../../evil.png", "image/png", png),
        ("\x00.png", "application/octet-stream", png),
        ("", "image/png", png),
    )
