"""Turn local plain text (ours or the AI's) into the HTML Mastodon itself would send.

Pure: no network, no storage. Mentions are found here, resolved elsewhere (WebFinger
is I/O) and handed back as :class:`ResolvedMention`; only resolved mentions become
links, because a link to a guessed profile URL would notify nobody and mislead readers.

The markup copies Mastodon's ``TextFormatter`` (h-card mentions, ``mention hashtag``
links, shortened URLs with ``invisible``/``ellipsis`` spans) so that remote servers
and clients style it as native. Every link already carries the ``rel``/``target`` that
:func:`fediverse_ai.sanitize.sanitize_html` forces, so our own output passes through
the sanitizer unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass
from html import escape
from typing import Literal
from urllib.parse import urlsplit

from fediverse_ai.sanitize import LINK_REL

__all__ = [
    "MentionRef",
    "ResolvedMention",
    "find_hashtags",
    "find_mentions",
    "find_urls",
    "inert_text",
    "neutralise_mentions",
    "render_note_html",
    "safe_username",
]


@dataclass(frozen=True)
class MentionRef:
    """``@alice`` (``domain=None``: a local account) or ``@alice@example.org``, as written."""

    username: str
    domain: str | None

    @property
    def key(self) -> tuple[str, str | None]:
        """Case-insensitive identity: ``@Alice`` and ``@alice`` are one account."""
        return (self.username.lower(), self.domain.lower() if self.domain else None)


@dataclass(frozen=True)
class ResolvedMention:
    """A mention after WebFinger: who to link to and who to address and tag."""

    ref: MentionRef
    actor_id: str
    profile_url: str
    acct: str  # "alice@example.org"


_USERNAME = r"[A-Za-z0-9_]+(?:[.\-]+[A-Za-z0-9_]+)*"
_USERNAME_RE = re.compile(_USERNAME)
_LABEL = r"[^\W_](?:[\w\-]*[^\W_])?"
_DOMAIN = rf"{_LABEL}(?:\.{_LABEL})*"
# One scanner for all three so a URL swallows any '@' or '#' inside it.  Mentions must
# not follow a word character ("bob@example.org" is an e-mail, "x@alice" is not ours)
# nor '/' or '=' (a URL path or query someone typed without a scheme).
_TOKEN_RE = re.compile(
    rf"""
    (?P<url>https?://[^\s<>"]+)
    | (?<![=/\w])@(?P<user>{_USERNAME})(?:@(?P<domain>{_DOMAIN}))?
    | (?<![=/)\w])\#(?P<tag>\w+)
    """,
    re.VERBOSE | re.IGNORECASE,
)
_URL_TRAILING = ".,:;!?'\"*"
_BRACKETS = {")": "(", "]": "[", "}": "{"}
_DISPLAY_PREFIX_RE = re.compile(r"^https?://(?:www\.)?", re.IGNORECASE)
_DISPLAY_LENGTH = 30
_PARAGRAPH_BREAK_RE = re.compile(r"\n(?:[ \t]*\n)+")
# C0 controls are invalid in HTML text (the sanitizer would turn them into '?').
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")

# What stands in for "@" in text that must mention nobody: it reads as an at sign, and no
# server's mention syntax (ours, Mastodon's, Misskey's MFM) takes the fullwidth form for one.
# A zero-width space after "@" would be invisible instead, and some servers strip those.
INERT_AT = "\uff20"
_NOT_USERNAME_RE = re.compile(r"[^\w.\-]+")
_USERNAME_CHARS = 64

_Kind = Literal["text", "url", "mention", "hashtag"]


@dataclass(frozen=True)
class _Token:
    kind: _Kind
    text: str
    mention: MentionRef | None = None


def _trim_url(url: str) -> str:
    """Drop sentence punctuation and unbalanced closing brackets after a URL."""
    while url:
        last = url[-1]
        if last in _URL_TRAILING or (
            last in _BRACKETS and url.count(last) > url.count(_BRACKETS[last])
        ):
            url = url[:-1]
        else:
            break
    return url


def _has_host(url: str) -> bool:
    try:
        return bool(urlsplit(url).hostname)
    except ValueError:  # e.g. an unterminated IPv6 literal
        return False


def _is_hashtag(name: str) -> bool:
    """Mastodon requires a letter: ``#1`` is a number, ``#_`` is noise."""
    return any(c.isalpha() for c in name)


def _tokenize(line: str) -> Iterator[_Token]:
    """Split text into plain text, URLs, mentions and hashtags, in order.

    No token can contain whitespace, so running this per line or on the whole text
    finds the same tokens.
    """
    pos = 0
    text_start = 0
    while match := _TOKEN_RE.search(line, pos):
        start, end = match.span()
        token: _Token | None = None
        if match.group("url") is not None:
            url = _trim_url(match.group("url"))
            end = start + len(url)
            if _has_host(url):
                token = _Token("url", url)
        elif match.group("user") is not None:
            ref = MentionRef(match.group("user"), match.group("domain"))
            token = _Token("mention", match.group(0), ref)
        elif _is_hashtag(match.group("tag")):
            token = _Token("hashtag", match.group("tag"))
        pos = max(end, start + 1)
        if token is None:
            continue
        if start > text_start:
            yield _Token("text", line[text_start:start])
        yield token
        text_start = end
    if text_start < len(line):
        yield _Token("text", line[text_start:])


def find_mentions(text: str) -> list[MentionRef]:
    """Mentions in order of first appearance, each account once (case-insensitive).

    Callers resolve these (WebFinger) and pass the results to :func:`render_note_html`;
    the same list decides who is addressed and tagged.
    """
    seen: dict[tuple[str, str | None], MentionRef] = {}
    for token in _tokenize(text):
        if token.mention is not None:
            seen.setdefault(token.mention.key, token.mention)
    return list(seen.values())


def find_urls(text: str) -> list[str]:
    """The http(s) URLs in ``text``, as :func:`render_note_html` would link them, in order."""
    return list(dict.fromkeys(t.text for t in _tokenize(text) if t.kind == "url"))


def neutralise_mentions(text: str) -> str:
    """``text`` with every "@" made inert, so that no server reads a mention in it."""
    return text.replace("@", INERT_AT)


def inert_text(text: str, *, keep_urls: Collection[str] = ()) -> str:
    """Text that mentions nobody: every "@" made inert, except inside the URLs kept.

    For AI answers, whose text is written by a model that anyone can make say anything:
    the URLs kept are the ones that will be links, so they must stay intact.
    """
    parts = []
    for token in _tokenize(text):
        raw = token.text if token.kind != "hashtag" else "#" + token.text
        keep = token.kind == "url" and token.text in keep_urls
        parts.append(raw if keep else neutralise_mentions(raw))
    return "".join(parts)


def safe_username(username: str) -> str:
    """A remote ``preferredUsername`` fit to show as a handle: one word, no "@", no spaces.

    Its server chose it; ``x @alice @bob@victim.example`` would otherwise read as three
    mentions wherever the handle is written out.
    """
    if _USERNAME_RE.fullmatch(username) and len(username) <= _USERNAME_CHARS:
        return username
    return _NOT_USERNAME_RE.sub("_", username).strip("_")[:_USERNAME_CHARS] or "user"


def find_hashtags(text: str) -> list[str]:
    """Hashtag names (without ``#``) in order, each once; the first spelling wins."""
    seen: dict[str, str] = {}
    for token in _tokenize(text):
        if token.kind == "hashtag":
            seen.setdefault(token.text.casefold(), token.text)
    return list(seen.values())


def _attr(value: str) -> str:
    """Escape an attribute value exactly as the sanitizer's serializer would."""
    return escape(value, quote=False).replace('"', "&quot;")


def _text(value: str) -> str:
    return escape(value, quote=False)


def _link_html(url: str) -> str:
    """Mastodon's shortened link: scheme hidden, display cut at 30 characters."""
    prefix = m.group(0) if (m := _DISPLAY_PREFIX_RE.match(url)) else ""
    rest = url[len(prefix) :]
    display, suffix = rest[:_DISPLAY_LENGTH], rest[_DISPLAY_LENGTH:]
    ellipsis = "ellipsis" if suffix else ""
    return (
        f'<a href="{_attr(url)}" rel="{LINK_REL}" translate="no" target="_blank">'
        f'<span class="invisible">{_text(prefix)}</span>'
        f'<span class="{ellipsis}">{_text(display)}</span>'
        f'<span class="invisible">{_text(suffix)}</span></a>'
    )


def _mention_html(mention: ResolvedMention) -> str:
    username = mention.acct.lstrip("@").partition("@")[0] or mention.ref.username
    return (
        '<span class="h-card" translate="no">'
        f'<a href="{_attr(mention.profile_url)}" class="u-url mention"'
        f' rel="{LINK_REL}" target="_blank">@<span>{_text(username)}</span></a></span>'
    )


def _hashtag_html(name: str, tag_url: Callable[[str], str]) -> str:
    return (
        f'<a href="{_attr(tag_url(name))}" class="mention hashtag"'
        f' rel="tag {LINK_REL}" target="_blank">#<span>{_text(name)}</span></a>'
    )


def _mention_index(
    mentions: Sequence[ResolvedMention],
) -> dict[tuple[str, str | None], ResolvedMention]:
    """Look-up by the reference as written and by the full ``acct``."""
    index: dict[tuple[str, str | None], ResolvedMention] = {}
    for mention in mentions:
        index.setdefault(mention.ref.key, mention)
        user, _, domain = mention.acct.lstrip("@").partition("@")
        if user and domain:
            index.setdefault((user.lower(), domain.lower()), mention)
    return index


def render_note_html(
    text: str,
    *,
    mentions: Sequence[ResolvedMention],
    tag_url: Callable[[str], str],
    lead: Sequence[ResolvedMention] = (),
    link_urls: Collection[str] | None = None,
) -> str:
    """Render plain ``text`` as a Note's ``content``.

    Blank lines separate ``<p>`` paragraphs, single newlines become ``<br>``. http(s)
    URLs, resolved mentions and hashtags become links; everything else is escaped text,
    so the AI cannot inject markup. ``tag_url(name)`` gives our hashtag page URL.
    Unresolved mentions stay plain ``@text``. ``lead``: mentions written before the text,
    as a reply starts with the people it addresses. ``link_urls``: when given, only these
    URLs become links and the others stay text (AI answers link only what the thread did).
    """
    index = _mention_index(mentions)
    text = _CONTROL_RE.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
    paragraphs = [p.strip("\n") for p in _PARAGRAPH_BREAK_RE.split(text)]
    rendered: list[str] = []
    for paragraph in paragraphs:
        if not paragraph.strip():
            continue
        lines: list[str] = []
        for line in paragraph.split("\n"):
            parts: list[str] = []
            for token in _tokenize(line):
                resolved = index.get(token.mention.key) if token.mention else None
                if token.kind == "url" and (link_urls is None or token.text in link_urls):
                    parts.append(_link_html(token.text))
                elif token.kind == "hashtag":
                    parts.append(_hashtag_html(token.text, tag_url))
                elif resolved is not None:
                    parts.append(_mention_html(resolved))
                else:
                    parts.append(_text(token.text))
            lines.append("".join(parts))
        rendered.append("<p>" + "<br>".join(lines) + "</p>")
    if lead:
        cards = " ".join(_mention_html(m) for m in lead)
        first = " " + rendered[0].removeprefix("<p>") if rendered else "</p>"
        rendered[:1] = [f"<p>{cards}{first}"]
    return "".join(rendered)
