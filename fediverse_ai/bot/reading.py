"""Reading a link for the AI actor: one web page, fetched on request, given to the model as data.

A link in a mention (or in the post it answers) is a URL somebody else chose, so the fetch is
the federation fetch's twin: the SSRF guard on every hop (redirects followed inside it), a
2 MB cap while streaming and one 10 s deadline, HTML or plain text only. A page that opts out
of AI use (``<meta name="robots" content="noai">`` or ``noimageai``, or the same words in an
``X-Robots-Tag`` header) is not read. What is read is untrusted text: the caller wraps it as
data for the model, and the answer names the URL it came from (the final one, after redirects).

The main text is extracted by trafilatura: in the published comparisons of boilerplate
removal (its own evaluation, and Bevendorff et al., SIGIR 2023) it is among the most accurate
extractors, it keeps paragraphs apart, and it reads titles from the page's metadata. It parses
with lxml's HTML parser, which resolves no entities and fetches nothing; its own downloader is
not used.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ..ai.prompt import ContextPost
from ..content import find_urls
from ..errors import FediverseError, PayloadTooLarge, UnsafeURL
from ..fetcher import FetchLimits, fetch_bytes
from ..netguard import CANNOT_RESOLVE
from ..state import State

log = logging.getLogger(__name__)

MAX_BYTES = 2 * 1024 * 1024
LIMITS = FetchLimits(max_bytes=MAX_BYTES, max_redirects=5, total_timeout=10.0)
ACCEPT = "text/html, application/xhtml+xml;q=0.9, text/plain;q=0.8"
_HTML_TYPES = ("text/html", "application/xhtml+xml")
_OPT_OUT = re.compile(r"(?<![\w-])no(?:image)?ai(?![\w-])", re.IGNORECASE)
_CHARSET = re.compile(r"charset=\"?([\w.:-]+)", re.IGNORECASE)
_MAX_URL = 500  # longer URLs are not read: they would not fit the answer that names them


@dataclass(frozen=True)
class Page:
    """A page that was read: ``url`` is the final URL, after redirects."""

    url: str
    title: str
    text: str


@dataclass(frozen=True)
class Unread:
    """A link that was not read, and a reason safe to tell the asker."""

    url: str
    reason: str


@dataclass(frozen=True)
class Reading:
    """What reading did for one request, in the shapes the prompt and the answer need."""

    pages: list[tuple[str, str]] = field(default_factory=list)  # (label, text) for the model
    notes: list[str] = field(default_factory=list)  # our own words to the model
    lead: str = ""  # said first in the answer
    source: str = ""  # said last: the URL read
    links: frozenset[str] = frozenset()  # URLs the answer may link


def link_to_read(asked: str, history: Sequence[ContextPost]) -> str | None:
    """The link a request is about: the first in the mention, else in the closest post."""
    for text in (asked, *(p.text for p in reversed(history) if not p.by_ai)):
        urls = [u for u in find_urls(text) if len(u) <= _MAX_URL]
        if urls:
            return urls[0]
    return None


async def read_for(state: State, asked: str, history: Sequence[ContextPost]) -> Reading:
    """Read the request's link, if it has one and the instance reads links."""
    conf = state.config.ai
    url = link_to_read(asked, history) if conf.read_links else None
    if url is None:
        return Reading()
    found = await read_link(state, url, max_chars=conf.link_chars)
    if isinstance(found, Unread):
        return Reading(
            notes=[
                f"(Our server could not read the link {found.url}: {found.reason}. Do not "
                "guess what it says; say briefly that you could not read it.)"
            ],
            lead=f"I couldn't read {found.url}: {found.reason}.",
            links=frozenset({found.url}),
        )
    label = f"the web page {found.url}" + (f" titled “{found.title}”" if found.title else "")
    return Reading(
        pages=[(label, found.text)],
        source=f"Read: {found.url}",
        links=frozenset({found.url}),
    )


async def read_link(state: State, url: str, *, max_chars: int) -> Page | Unread:
    """Fetch and extract ``url``; never raises for anything the page or its server does."""
    try:
        fetched = await fetch_bytes(
            state.http, url, guard=state.guard, accept=ACCEPT, limits=LIMITS
        )
    except UnsafeURL as exc:
        reason = "it could not be found" if exc.message == CANNOT_RESOLVE else "it is not public"
        return Unread(url, reason)
    except PayloadTooLarge:
        return Unread(url, "the page is too large (over 2 MB)")
    except FediverseError as exc:
        log.info("link %s not read: %s", url, exc.message)
        status = getattr(exc, "http_status", None)
        return Unread(url, f"its server answered {status}" if status else "it did not answer")
    if _OPT_OUT.search(fetched.robots):
        return Unread(fetched.url, "the page asks not to be used by AI")
    media_type = fetched.content_type.split(";")[0].strip().lower()
    if media_type in _HTML_TYPES:
        found = await asyncio.to_thread(_extract_html, fetched.body)
        if found is None:
            return Unread(fetched.url, "the page asks not to be used by AI")
        title, text = found
    elif media_type == "text/plain":
        title, text = "", _decode(fetched.body, fetched.content_type)
    else:
        return Unread(fetched.url, "it is not a web page or plain text")
    text = _tidy(text[: max_chars * 2])  # the tidying is per character: only what is kept
    if not text:
        return Unread(fetched.url, "no readable text was found on the page")
    return Page(fetched.url, _tidy(title)[:300], text[:max_chars])


def _extract_html(body: bytes) -> tuple[str, str] | None:
    """``(title, main text)``, or None when the page opts out of AI use."""
    from trafilatura import bare_extraction, load_html  # heavy; only the AI path needs it

    tree: Any = load_html(body)
    if tree is None:
        return "", ""
    title = ""
    for meta in tree.iter("meta"):
        name = str(meta.get("name") or "").strip().lower()
        if name in ("robots", "noai") and _OPT_OUT.search(str(meta.get("content") or name)):
            return None
        if str(meta.get("property") or "").lower() == "og:title" and not title:
            title = str(meta.get("content") or "")
    if not title:
        found = tree.find(".//title")
        title = found.text_content() if found is not None else ""
    # Without trafilatura's metadata pass: its date parsing alone costs more than the
    # extraction (70 ms of 130 on a 200 KB page, BENCHMARKS.md), and only the title is used.
    document: Any = bare_extraction(tree, include_comments=False)
    if document is None:
        return title, ""
    return title, str(document.text or "")


def _decode(body: bytes, content_type: str) -> str:
    match = _CHARSET.search(content_type)
    try:
        return body.decode(match.group(1) if match else "utf-8", errors="replace")
    except LookupError:
        return body.decode("utf-8", errors="replace")


def _tidy(text: str) -> str:
    # Control characters other than newlines and tabs carry nothing a reader needs, and a lone
    # surrogate (decoded from hostile bytes) cannot be stored or sent.
    cleaned = "".join(
        ch
        for ch in text
        if (ch in "\n\t" or ch.isprintable() or ch == " ") and not 0xD800 <= ord(ch) <= 0xDFFF
    )
    return re.sub(r"\n{3,}", "\n\n", re.sub(r"[ \t]+", " ", cleaned)).strip()
