"""Fixtures of what other servers send (``tests/fixtures/remote``), the files they point at,
and the check that a page of ours loads nothing from another host.

A fixture names its peer ``https://remote.example``; :func:`load` puts the stand-in peer's
base URL there, and :func:`serve_media` makes the peer serve a real file (Pillow pictures,
MP4/MP3 headers the media cache recognises) at every media URL the fixtures mention.
"""

from __future__ import annotations

import io
import json
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from PIL import Image
from support.remote import RemoteFediverse

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "remote"
PLACEHOLDER_BASE = "https://remote.example"
#: (server, file) of every fixture, in the order the tests deliver them.
SHAPES = [
    ("mastodon", "sensitive-photo.json"),
    ("mastodon", "video-and-audio.json"),
    ("pleroma", "link-typed-image.json"),
    ("misskey", "sensitive-file.json"),
    ("peertube", "video.json"),
    ("funkwhale", "audio.json"),
    ("wordpress", "article.json"),
    ("writefreely", "article.json"),
]
MP4 = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + b"\x00" * 2000
MP3 = b"ID3\x03\x00\x00\x00\x00\x00\x00" + b"\xff\xfb\x90\x00" * 500
_MEDIA_URL = re.compile(r"https://remote\.example/[^\"?]+\.(?:jpg|png|mp4|mp3)")
#: Attributes through which a page makes the browser fetch something by itself.
FETCHING_ATTRIBUTES = ("src", "poster", "srcset", "data", "background")


def load(server: str, name: str, remote: RemoteFediverse) -> dict[str, Any]:
    text = (FIXTURES / server / name).read_text(encoding="utf-8")
    doc: dict[str, Any] = json.loads(text.replace(PLACEHOLDER_BASE, remote.base_url))
    return doc


def picture(size: tuple[int, int], color: tuple[int, int, int], kind: str = "JPEG") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, kind)
    return out.getvalue()


def serve_media(remote: RemoteFediverse) -> list[str]:
    """Serve a real file at every media URL of every fixture; returns their paths."""
    paths = []
    for index, (server, name) in enumerate(SHAPES):
        text = (FIXTURES / server / name).read_text(encoding="utf-8")
        for url in sorted(set(_MEDIA_URL.findall(text))):
            path = url.removeprefix(PLACEHOLDER_BASE)
            ext = path.rsplit(".", 1)[1]
            color = (40 + 25 * index, 120, 200 - 20 * index)
            remote.files[path] = {
                "jpg": ("image/jpeg", picture((640, 480), color)),
                "png": ("image/png", picture((400, 300), color, "PNG")),
                "mp4": ("video/mp4", MP4),
                "mp3": ("audio/mpeg", MP3),
            }[ext]
            paths.append(path)
    return paths


class _URLAttributes(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[str, str, str]] = []  # (tag, attribute, URL)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in FETCHING_ATTRIBUTES and value:
                urls = [part.strip().split(" ")[0] for part in value.split(",")]
                if name != "srcset":
                    urls = [value.strip()]
                self.found.extend((tag, name, u) for u in urls if u)
            # rel=alternate (our AS2 link) is never fetched by a browser; anything else may be.
            fetched_link = tag == "link" and dict(attrs).get("rel") != "alternate"
            if fetched_link and name == "href" and value:
                self.found.append((tag, name, value))
            if name == "style" and value and "url(" in value:
                self.found.append((tag, name, value))

    handle_startendtag = handle_starttag


def fetched_urls(page: str) -> list[tuple[str, str, str]]:
    parser = _URLAttributes()
    parser.feed(page)
    parser.close()
    return parser.found


def foreign_fetches(page: str, base_url: str) -> list[tuple[str, str, str]]:
    """Every URL the page would make a browser fetch from a host other than ours."""
    ours = urlsplit(base_url).netloc
    bad = []
    for tag, attr, url in fetched_urls(page):
        parts = urlsplit(url)
        relative = not parts.scheme and not parts.netloc and not url.startswith("//")
        if attr == "style" or not (relative or (parts.netloc == ours and parts.scheme)):
            bad.append((tag, attr, url))
    return bad


_VOID = frozenset({"br", "img", "hr", "input", "meta", "link", "source", "track", "wbr", "col"})


class Node:
    """An element of a parsed page: enough DOM to ask where an element sits and what it says."""

    def __init__(self, tag: str, attrs: dict[str, str | None], parent: Node | None) -> None:
        self.tag, self.attrs, self.parent = tag, attrs, parent
        self.children: list[Node | str] = []

    def classes(self) -> set[str]:
        return set((self.attrs.get("class") or "").split())

    def text(self) -> str:
        parts = [c if isinstance(c, str) else c.text() for c in self.children]
        return " ".join(" ".join(parts).split())

    def iter(self, tag: str | None = None, cls: str | None = None) -> list[Node]:
        found, pending = [], list(reversed(self.children))
        while pending:
            item = pending.pop()
            if isinstance(item, str):
                continue
            if (tag is None or item.tag == tag) and (cls is None or cls in item.classes()):
                found.append(item)
            pending.extend(reversed(item.children))
        return found

    def inside(self, tag: str, cls: str | None = None) -> bool:
        node = self.parent
        while node is not None:
            if node.tag == tag and (cls is None or cls in node.classes()):
                return True
            node = node.parent
        return False


class _TreeBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#document", {}, None)
        self.current = self.root

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, dict(attrs), self.current)
        self.current.children.append(node)
        if tag not in _VOID:
            self.current = node

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.current.children.append(Node(tag, dict(attrs), self.current))

    def handle_endtag(self, tag: str) -> None:
        node: Node | None = self.current
        while node is not None and node.tag != tag:
            node = node.parent
        if node is not None and node.parent is not None:
            self.current = node.parent

    def handle_data(self, data: str) -> None:
        self.current.children.append(data)


def parse_page(page: str) -> Node:
    builder = _TreeBuilder()
    builder.feed(page)
    builder.close()
    return builder.root


def card_of(page: str, note_id: int) -> Node:
    found = [n for n in parse_page(page).iter("article") if n.attrs.get("id") == f"note-{note_id}"]
    assert len(found) == 1, f"note {note_id} is not on the page once"
    return found[0]
