"""Clean remote HTML down to what Mastodon itself keeps, and turn HTML into plain text.

Remote ``content`` is attacker-controlled. We keep exactly Mastodon's allowlist
(``app/lib/sanitize_config.rb``, ``MASTODON_STRICT``) so that a post looks the same
here as on the biggest implementation, and nothing more: no images, no styles, no
event handlers, only absolute links with a known scheme.

bleach does the heavy lifting (an HTML5 parser, so no regex games), and one small
token filter after it does what bleach cannot express with an allowlist:

* drop ``script``/``style``/``iframe``/... *with* their content (bleach's ``strip``
  keeps the text of removed elements, which for a script is source code);
* keep only microformat and Mastodon class names;
* unwrap links without an absolute, allowed ``href`` (Mastodon does the same);
* force ``rel="nofollow noopener noreferrer"`` and ``target="_blank"`` on links;
* keep the structure of what we do not allow (headings, tables, sections, media) as
  paragraphs and line breaks, and the alt and fallback text of media (``html_structure``).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Iterator
from html import unescape
from html.parser import HTMLParser
from typing import Any

from bleach.sanitizer import Cleaner

from .html_structure import CONTAINERS, HEADINGS, RESTRUCTURED, restructure

__all__ = ["ALLOWED_PROTOCOLS", "ALLOWED_TAGS", "LINK_REL", "html_to_text", "sanitize_html"]

# fmt: off
ALLOWED_TAGS = frozenset({
    "p", "br", "span", "a", "del", "s", "pre", "blockquote", "code", "b", "strong", "u",
    "i", "em", "ul", "ol", "li", "ruby", "rt", "rp",
    # Beyond Mastodon's list: inline marks whose loss changes the meaning (H<sub>2</sub>O,
    # x<sup>2</sup>, small print, an insertion next to a deletion).
    "sup", "sub", "small", "mark", "ins",
})
# fmt: on
ALLOWED_ATTRIBUTES: dict[str, list[str]] = {
    "a": ["href", "rel", "class", "translate"],
    "span": ["class", "translate"],
    # Mastodon's quote fallback line (quote-inline): hidden where the quote itself is shown.
    "p": ["class"],
    "ol": ["start", "reversed"],
    "li": ["value"],
    "img": ["alt"],  # read by html_structure (the alt text stays), never in the output
}
# fmt: off
ALLOWED_PROTOCOLS = frozenset({
    "http", "https", "dat", "dweb", "ipfs", "ipns", "ssb", "gopher", "xmpp", "magnet", "gemini",
})
#: Elements whose content is never text a reader should see: dropped whole.
DROP_WITH_CONTENT = frozenset({
    "script", "style", "iframe", "object", "template", "noscript", "embed", "applet", "frame",
    "frameset", "noembed", "noframes",
})
# fmt: on
#: The ``rel`` every kept link gets; ``tag`` is the only remote token we keep.
LINK_REL = "nofollow noopener noreferrer"
_KEPT_REL_TOKENS = ("tag",)
_CLASS_RE = re.compile(r"^(?:(?:h|p|u|dt|e)-.+|mention|hashtag|ellipsis|invisible|quote-inline)$")
_SCHEME_RE = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.\-]*):")
_ASCII_WS = re.compile(r"[\t\n\f\r ]+")

Token = dict[str, Any]


class _MastodonFilter:
    """html5lib token filter run after bleach's own sanitizer; see the module docstring.

    It walks a token stream produced from a parsed tree, so start and end tags are
    balanced, which makes depth counting for dropped elements reliable.
    """

    def __init__(self, source: Iterable[Token]) -> None:
        self.source = source

    def __iter__(self) -> Iterator[Token]:
        drop_depth = 0
        kept_links: list[bool] = []
        for token in self.source:
            kind = token["type"]
            name = token.get("name")
            if drop_depth:
                if kind == "StartTag":
                    drop_depth += 1
                elif kind == "EndTag":
                    drop_depth -= 1
                continue
            if name in DROP_WITH_CONTENT and kind in ("StartTag", "EmptyTag"):
                drop_depth = 1 if kind == "StartTag" else 0
                continue
            if kind in ("StartTag", "EmptyTag") and "data" in token:
                token["data"] = _clean_attributes(name, token["data"])
            if name == "a" and kind == "StartTag":
                keep = (None, "href") in token["data"]
                kept_links.append(keep)
                if not keep:
                    continue
                _force_link_attributes(token["data"])
            elif name == "a" and kind == "EndTag" and kept_links and not kept_links.pop():
                continue
            yield token


def _filter(source: Iterable[Token]) -> Iterator[Token]:
    return restructure(_MastodonFilter(source))


def _clean_attributes(tag: str | None, attrs: dict[tuple[str | None, str], str]) -> dict[Any, str]:
    """Keep plain HTML attributes only, allowed classes only, absolute allowed links only."""
    cleaned: dict[Any, str] = {}
    for (namespace, attr), value in attrs.items():
        if namespace is not None:  # xlink:href and friends from SVG/MathML islands
            continue
        if attr == "class":
            value = " ".join(c for c in _ASCII_WS.split(value) if _CLASS_RE.match(c))
        elif attr == "href" and tag == "a" and not _is_absolute_allowed(value):
            continue
        cleaned[(None, attr)] = value
    return cleaned


def _is_absolute_allowed(href: str) -> bool:
    """Relative and protocol-relative links would point at *our* host; refuse them."""
    match = _SCHEME_RE.match(unescape(href).strip())
    return match is not None and match.group(1).lower() in ALLOWED_PROTOCOLS


def _force_link_attributes(attrs: dict[Any, str]) -> None:
    """Set rel/target in place so attribute order is stable (output is idempotent)."""
    remote_rel = _ASCII_WS.split(attrs.get((None, "rel"), "").lower())
    kept = [t for t in _KEPT_REL_TOKENS if t in remote_rel]
    attrs[(None, "rel")] = " ".join([*kept, LINK_REL])
    attrs[(None, "target")] = "_blank"


_local = threading.local()


def _cleaner(*, structured: bool = True) -> Cleaner:
    """Build the Cleaner on first use, once per thread (bleach's parser is not thread-safe)."""
    attr = "cleaner" if structured else "flat_cleaner"
    cleaner: Cleaner | None = getattr(_local, attr, None)
    if cleaner is None:
        # Dropped elements are "allowed" through bleach so that our filter sees them whole
        # and removes them with their content; bleach still strips their attributes. So are
        # the restructured ones, which html_structure rewrites into paragraphs.
        extra = RESTRUCTURED if structured else frozenset()
        cleaner = Cleaner(
            tags=ALLOWED_TAGS | DROP_WITH_CONTENT | extra,
            attributes=ALLOWED_ATTRIBUTES,
            protocols=ALLOWED_PROTOCOLS,
            strip=True,
            strip_comments=True,
            filters=[_filter] if structured else [_MastodonFilter],
        )
        setattr(_local, attr, cleaner)
    return cleaner


#: html5lib's tree building is quadratic in nesting depth for block elements (each start tag
#: looks down the stack for a ``<p>`` to close): past this many of them, which no real post
#: has, the structure is dropped as before (text kept) rather than parsed. Counted, not
#: nested, because an end tag the parser ignores would fool a depth count.
MAX_STRUCTURED_TAGS = 2000
_NAMES = "|".join(sorted(RESTRUCTURED, key=len, reverse=True))
_RESTRUCTURED_START = re.compile(rf"<(?:{_NAMES})[\s/>]", re.IGNORECASE)


def _structured(html: str) -> bool:
    for count, _ in enumerate(_RESTRUCTURED_START.finditer(html), 1):
        if count > MAX_STRUCTURED_TAGS:
            return False
    return True


def sanitize_html(html: str) -> str:
    """Return ``html`` reduced to Mastodon's allowlist, safe to embed in our pages.

    Disallowed tags are removed but their text kept, and their structure where it matters
    (a remote ``<h1>`` becomes a bold paragraph, see ``html_structure``), except script-like
    elements, which vanish entirely. The result is idempotent: sanitizing it again gives the
    same string, which lets us store and re-check it.
    """
    if not html:
        return ""
    result: str = _cleaner(structured=_structured(html)).clean(html)
    return result


_BLOCKS = frozenset({"p", "blockquote", "pre", "ul", "ol"}) | CONTAINERS - {"td", "th"} | HEADINGS


class _TextExtractor(HTMLParser):
    """Collect visible text; block boundaries, ``<li>`` and ``<br>`` become newlines, table
    cells are separated by a bar and an image reads as its alt text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0
        self._pre = 0
        self._cell = False

    def _newline(self, count: int) -> None:
        self.parts.append("\n" * count)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in DROP_WITH_CONTENT:
            self._skip += 1
        elif tag in ("br", "li"):
            self._newline(1)
        elif tag in ("td", "th"):
            if self._cell:
                self.parts.append(" | ")
            self._cell = True
        elif tag == "img":
            self.handle_startendtag(tag, attrs)
        elif tag in _BLOCKS:
            self._newline(2)
            self._cell = False
            if tag == "pre":
                self._pre += 1

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br":
            self._newline(1)
        elif tag == "img" and not self._skip:
            alt = dict(attrs).get("alt")
            if alt and alt.strip():
                self.parts.append(" ".join(alt.split()))

    def handle_endtag(self, tag: str) -> None:
        if tag in DROP_WITH_CONTENT:
            self._skip = max(0, self._skip - 1)
        elif tag in _BLOCKS:
            self._newline(2)
            self._cell = False
            if tag == "pre":
                self._pre = max(0, self._pre - 1)

    def handle_data(self, data: str) -> None:
        if self._skip:
            return
        if not self._pre:
            # Source formatting whitespace is not content, except inside <pre>.
            data = _ASCII_WS.sub(" ", data)
            if not self.parts or self.parts[-1].endswith("\n"):
                data = data.lstrip(" ")
        self.parts.append(data)


def html_to_text(html: str) -> str:
    """Plain text of an HTML post, for AI prompts, summaries and notifications.

    Paragraphs are separated by a blank line, ``<br>`` is a newline, entities are
    decoded and every tag is dropped. Link text is kept, so Mastodon's shortened
    links (``<span class="invisible">https://</span>…``) read as the full URL.
    Script-like elements are skipped, so this is safe on unsanitized input too.
    """
    parser = _TextExtractor()
    parser.feed(html)
    parser.close()
    text = "\n".join(line.rstrip(" ") for line in "".join(parser.parts).split("\n"))
    return re.sub(r"\n{3,}", "\n\n", text).strip("\n")
