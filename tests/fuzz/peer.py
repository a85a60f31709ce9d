"""The stand-in peer dressed for fuzzing: extra users with hostile actor documents, and media
(real images, broken ones, a decompression bomb) for attachments and avatars to point at."""

from __future__ import annotations

import io
import random
import struct
import zlib
from typing import Any

from PIL import Image
from support.keys import reusable_key
from support.remote import RemoteFediverse, RemoteUser

from .activities import ACTOR_FIELDS
from .mutate import hostile_url, hostile_value, mutate_doc
from .requests import rng_for

HOSTILE_ACTORS = 8


def _png(width: int, height: int, mode: str = "RGB") -> bytes:
    out = io.BytesIO()
    Image.new(mode, (width, height), "red").save(out, "PNG")
    return out.getvalue()


def _bomb_png(width: int, height: int) -> bytes:
    """A valid PNG header claiming ``width`` x ``height`` with almost no data behind it."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    data = zlib.compress(b"\x00" * 4096)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")
    )


def media_files() -> dict[str, tuple[str, bytes]]:
    """Path -> (content type, bytes) for the peer to serve."""
    png = _png(64, 48)
    jpeg = io.BytesIO()
    Image.new("RGB", (32, 32), "blue").save(jpeg, "JPEG")
    gif = io.BytesIO()
    Image.new("P", (8, 8)).save(gif, "GIF")
    return {
        "/media/ok.png": ("image/png", png),
        "/media/ok.jpg": ("image/jpeg", jpeg.getvalue()),
        "/media/ok.gif": ("image/gif", gif.getvalue()),
        "/media/rgba.png": ("image/png", _png(16, 16, "RGBA")),
        "/media/truncated.png": ("image/png", png[: len(png) // 2]),
        "/media/bomb.png": ("image/png", _bomb_png(60_000, 60_000)),
        "/media/empty.png": ("image/png", b""),
        "/media/html.png": ("image/png", b"<html><script>alert(1)</script></html>"),
        "/media/png-as-html": ("text/html", png),
        "/media/video.mp4": ("video/mp4", b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 100),
        "/media/noise.bin": ("application/octet-stream", bytes(range(256)) * 8),
    }


def hostile_jrd(remote: RemoteFediverse, name: str, rng: random.Random) -> Any:
    """A WebFinger answer for ``name`` that is wrong in one way."""
    self_link = {"rel": "self", "type": "application/activity+json", "href": remote.actor_uri(name)}
    subscribe = {"rel": "http://ostatus.org/schema/1.0/subscribe", "template": "x"}
    return rng.choice(
        [
            [],
            {"links": "x"},
            {"subject": hostile_value(rng), "links": [self_link]},
            {
                "subject": f"acct:{remote.handle(name)}",
                "links": [{**self_link, "href": hostile_url(rng)}],
            },
            {
                "subject": "acct:alice@127.0.0.1:1",
                "links": [{**self_link, "href": remote.actor_uri("alice")}],
            },
            {
                "links": [
                    subscribe,
                    {**subscribe, "template": hostile_url(rng) + "{uri}"},
                    hostile_value(rng),
                ]
            },
            {"subject": f"acct:{remote.handle(name)}", "links": [self_link] * 5000},
        ]
    )


def key_path(name: str) -> str:
    """Where the peer serves ``name``'s key as a document of its own (a keyId may name it)."""
    return f"/keys/{name}"


def dress(remote: RemoteFediverse, seed: int) -> None:
    """Add media, the users ``h0``.. whose actor documents are hostile (from ``seed``), and
    key documents of their own (hostile too for the ``h`` users)."""
    remote.files.update(media_files())
    for number in range(HOSTILE_ACTORS):
        name = f"h{number}"
        rng = rng_for(seed, number, "actor")
        private_pem, public_pem = reusable_key(f"remote:{name}")
        user = RemoteUser(name, name.title(), "Person", private_pem, public_pem)
        remote.users[name] = user
        for field_name in rng.sample(ACTOR_FIELDS, rng.randrange(1, 6)):
            user.actor_extra[field_name] = hostile_value(rng)
        if rng.random() < 0.5:
            media = rng.choice(list(remote.files))
            url = f"{remote.base_url}{media}" if rng.random() < 0.8 else hostile_url(rng)
            user.actor_extra["icon"] = {"type": "Image", "url": url}
        if rng.random() < 0.25:
            # The whole served document mutated, its key included now and then.
            doc, _ = mutate_doc(remote.actor_document(name), rng, base=remote.base_url)
            remote.overrides[f"/users/{name}"] = doc
        if rng.random() < 0.5:
            remote.jrd_overrides[f"acct:{remote.handle(name)}"] = hostile_jrd(remote, name, rng)
    for name in remote.users:
        rng = rng_for(seed, len(name), f"key:{name}")
        key = {
            "@context": "https://w3id.org/security/v1",
            "id": f"{remote.base_url}{key_path(name)}",
            "type": "Key",
            "owner": remote.actor_uri(name),
            "publicKeyPem": remote.users[name].public_key_pem,
        }
        if name.startswith("h"):
            key, _ = mutate_doc(key, rng, base=remote.base_url)
        remote.objects[key_path(name)] = key
