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
* force ``rel="nofollow noopener noreferrer"`` and ``target="_blank"`` on links.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Iterator
from html import unescape
from html.parser import HTMLParser
from typing import Any

from bleach.sanitizer import Cleaner

__all__ = ["ALLOWED_PROTOCOLS", "ALLOWED_TAGS", "LINK_REL", "html_to_text", "sanitize_html"]

# fmt: off
ALLOWED_TAGS = frozenset({
    "p", "br", "span", "a", "del", "s", "pre", "blockquote", "code", "b", "strong", "u",
    "i", "em", "ul", "ol", "li", "ruby", "rt", "rp",
})
# fmt: on
ALLOWED_ATTRIBUTES: dict[str, list[str]] = {
    "a": ["href", "rel", "class", "translate"],
    "span": ["class", "translate"],
    "ol": ["start", "reversed"],
    "li": ["value"],
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


def _cleaner() -> Cleaner:
    """Build the Cleaner on first use, once per thread (bleach's parser is not thread-safe)."""
    cleaner: Cleaner | None = getattr(_local, "cleaner", None)
    if cleaner is None:
        cleaner = Cleaner(
            # Dropped elements are "allowed" through bleach so that our filter sees them
            # whole and removes them with their content; bleach still strips their attributes.
            tags=ALLOWED_TAGS | DROP_WITH_CONTENT,
            attributes=ALLOWED_ATTRIBUTES,
            protocols=ALLOWED_PROTOCOLS,
            strip=True,
            strip_comments=True,
            filters=[_MastodonFilter],
        )
        _local.cleaner = cleaner
    return cleaner


def sanitize_html(html: str) -> str:
    """Return ``html`` reduced to Mastodon's allowlist, safe to embed in our pages.

    Disallowed tags are removed but their text kept (a remote ``<h1>`` still reads),
    except script-like elements, which vanish entirely. The result is idempotent:
    sanitizing it again gives the same string, which lets us store and re-check it.
    """
    if not html:
        return ""
    result: str = _cleaner().clean(html)
    return result


# fmt: off
_BLOCKS = frozenset({
    "p", "div", "blockquote", "pre", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "table", "tr",
})
# fmt: on


class _TextExtractor(HTMLParser):
    """Collect visible text; block boundaries, ``<li>`` and ``<br>`` become newlines."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0
        self._pre = 0

    def _newline(self, count: int) -> None:
        self.parts.append("\n" * count)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in DROP_WITH_CONTENT:
            self._skip += 1
        elif tag in ("br", "li"):
            self._newline(1)
        elif tag in _BLOCKS:
            self._newline(2)
            if tag == "pre":
                self._pre += 1

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br":
            self._newline(1)

    def handle_endtag(self, tag: str) -> None:
        if tag in DROP_WITH_CONTENT:
            self._skip = max(0, self._skip - 1)
        elif tag in _BLOCKS:
            self._newline(2)
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
