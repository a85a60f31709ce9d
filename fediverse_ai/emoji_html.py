"""``:shortcode:`` drawn as its picture in HTML we already made safe. Pure.

The replacement happens on text nodes only: a shortcode inside an attribute (a link's
``href``, a title) stays as it is, and what is inserted is built from a checked shortcode
(``[A-Za-z0-9_]``) and a URL of ours, both escaped, so no remote text can become markup.
Tags are copied through as the parser read them, and entities stay as written.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from html import escape
from html.parser import HTMLParser

from .as2_emoji import SCAN_RE

__all__ = ["emoji_img", "emojify_html", "emojify_text"]

#: Text inside these is shown as written (code is code, and a hidden link prefix is hidden).
_LITERAL = frozenset({"code", "pre"})
MAX_DRAWN = 200


def emoji_img(shortcode: str, src: str) -> str:
    """The picture of one emoji, sized by the ``emoji`` class to the text around it."""
    code = escape(f":{shortcode}:")
    return (
        f'<img class="emoji" alt="{code}" title="{code}" src="{escape(src)}"'
        ' width="20" height="20" draggable="false" loading="lazy" decoding="async">'
    )


class _Drawer:
    """Replaces ``:code:`` in escaped text, at most :data:`MAX_DRAWN` times per object: a post
    of 100,000 characters of shortcodes would otherwise become megabytes of ``<img>``."""

    def __init__(self, emoji: Mapping[str, str]) -> None:
        self.emoji = emoji
        self.left = MAX_DRAWN

    def __call__(self, text: str) -> str:
        return SCAN_RE.sub(self._one, text) if self.left > 0 else text

    def _one(self, match: re.Match[str]) -> str:
        src = self.emoji.get(match.group(1))
        if not src or self.left <= 0:
            return match.group(0)
        self.left -= 1
        return emoji_img(match.group(1), src)


class _Emojifier(HTMLParser):
    def __init__(self, emoji: Mapping[str, str]) -> None:
        super().__init__(convert_charrefs=False)
        self.draw = _Drawer(emoji)
        self.out: list[str] = []
        self._literal = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _LITERAL:
            self._literal += 1
        self.out.append(self.get_starttag_text() or "")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.out.append(self.get_starttag_text() or "")

    def handle_endtag(self, tag: str) -> None:
        if tag in _LITERAL:
            self._literal = max(0, self._literal - 1)
        self.out.append(f"</{tag}>")

    def handle_data(self, data: str) -> None:
        self.out.append(data if self._literal else self.draw(data))

    def handle_entityref(self, name: str) -> None:
        self.out.append(f"&{name};")

    def handle_charref(self, name: str) -> None:
        self.out.append(f"&#{name};")

    def handle_comment(self, data: str) -> None:
        pass  # the sanitizer left none; none is added back

    def handle_decl(self, decl: str) -> None:
        pass


def emojify_html(html: str, emoji: Mapping[str, str]) -> str:
    """Sanitised ``html`` with the ``:code:`` of ``emoji`` (shortcode -> our URL) drawn.

    Only for output of ``sanitize_html`` or our own renderer: text there has every ``<``,
    ``>`` and ``&`` escaped, so a text node is exactly what the parser reports as data."""
    if not any(f":{code}:" in html for code in emoji):
        return html
    parser = _Emojifier(emoji)
    parser.feed(html)
    parser.close()
    return "".join(parser.out)


def emojify_text(text: str, emoji: Mapping[str, str]) -> str:
    """Plain ``text`` (a display name, a content warning) as HTML, escaped, emoji drawn."""
    escaped = escape(text, quote=False)
    return _Drawer(emoji)(escaped) if emoji else escaped
