"""Block structure of remote HTML turned into what a post may hold: paragraphs and breaks.

Blogs and long-form servers (WordPress, WriteFreely, Ghost, Plume) send headings, sections,
tables, definition lists and embedded media. Our allowlist (Mastodon's) has none of them, and
removing their tags alone runs the text together ("<h1>a</h1><h2>b</h2>" would read "a b").
So, as Mastodon does: a heading becomes a bold paragraph, a container its paragraphs, a table
one line per row, a definition list a bold term above its definition; an image becomes its
``alt`` text and a video or sound its fallback text. Lists, quotes and ``pre`` stay as they are.

This runs on html5lib's balanced token stream (inside sanitize's filter), so it builds a small
tree, rewrites it and emits tokens again. Hostile depth is bounded: below ``MAX_DEPTH`` a
subtree is kept as its text only, and nothing here recurses deeper than that.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

__all__ = ["CONTAINERS", "HEADINGS", "RESTRUCTURED", "VOID_DROPPED", "restructure"]

Token = dict[str, Any]
MAX_DEPTH = 48
HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
# fmt: off
#: Elements that become paragraphs (or hold them): they never reach the output themselves.
CONTAINERS = frozenset({
    "div", "section", "article", "header", "footer", "aside", "nav", "main", "figure",
    "figcaption", "address", "hgroup", "center", "fieldset", "legend", "details", "summary",
    "caption", "dl", "dt", "dd", "table", "thead", "tbody", "tfoot", "tr", "td", "th",
    "video", "audio", "picture", "search",
})
# fmt: on
#: Void elements let through to be rewritten: ``img`` becomes its alt text, the others vanish.
VOID_DROPPED = frozenset({"img", "hr", "source", "track", "wbr"})
RESTRUCTURED = HEADINGS | CONTAINERS | VOID_DROPPED
#: Kept block elements whose content may itself be blocks.
_BLOCK_HOLDERS = frozenset({"blockquote", "li", "ul", "ol"})
_KEPT_BLOCKS = frozenset({"p", "pre", "blockquote", "ul", "ol", "li"})
_CELL_SEPARATOR = " | "


@dataclass
class _Element:
    name: str
    start: Token
    children: list[Any] = field(default_factory=list)  # _Element or leaf tokens


def _tree(tokens: Iterable[Token]) -> list[Any]:
    root = _Element("#root", {})
    stack = [root]
    for token in tokens:
        kind = token["type"]
        if kind == "StartTag":
            node = _Element(token["name"], token)
            stack[-1].children.append(node)
            stack.append(node)
        elif kind == "EndTag":
            if len(stack) > 1:
                stack.pop()
        else:
            stack[-1].children.append(token)
    return root.children


def _text(token_or_node: Any) -> Iterator[Token]:
    """The character tokens of a subtree, iteratively (a subtree may be hostile-deep)."""
    pending = [token_or_node]
    while pending:
        item = pending.pop()
        if isinstance(item, _Element):
            pending.extend(reversed(item.children))
        elif item["type"] in ("Characters", "SpaceCharacters"):
            yield item
        elif item["type"] == "EmptyTag" and item["name"] == "img":
            yield from _alt(item)


def _alt(token: Token) -> list[Token]:
    alt = str(token.get("data", {}).get((None, "alt"), "")).strip()
    return [{"type": "Characters", "data": alt}] if alt else []


def _chars(text: str) -> Token:
    return {"type": "Characters", "data": text}


def _br() -> Token:
    # "soft": a break we added between flattened blocks, dropped again at the end of a line.
    return {"type": "EmptyTag", "name": "br", "data": {}, "soft": True}


def _trim(items: list[Any]) -> list[Any]:
    while items and not isinstance(items[-1], _Element) and items[-1].get("soft"):
        items.pop()
    return items


def _wrap(name: str, children: list[Any]) -> _Element:
    return _Element(name, {"type": "StartTag", "name": name, "data": {}}, children)


def _is_block(item: Any) -> bool:
    return isinstance(item, _Element) and item.name in _KEPT_BLOCKS


def _blank(items: list[Any]) -> bool:
    return all(not isinstance(i, _Element) and i["type"] == "SpaceCharacters" for i in items)


def _inline(items: list[Any], depth: int) -> list[Any]:
    """``items`` rewritten, every block flattened into the line it is on, breaks between."""
    return _trim(_flatten(_rewrite(items, depth, block=False)))


def _flatten(items: list[Any]) -> list[Any]:
    """Already rewritten ``items`` with their blocks unwrapped (never rewritten twice, which
    would cost twice per level of nesting)."""
    out: list[Any] = []
    for item in items:
        if _is_block(item):
            if out and not _blank(out):
                out.append(_br())
            out.extend(_flatten(item.children))
        else:
            out.append(item)
    return out


def _paragraphs(items: list[Any]) -> list[Any]:
    """Runs of inline content between blocks wrapped in paragraphs."""
    out: list[Any] = []
    run: list[Any] = []
    for item in [*items, None]:
        if item is not None and not _is_block(item):
            run.append(item)
            continue
        if _trim(run) and not _blank(run):
            out.append(_wrap("p", run))
        run = []
        if item is not None:
            out.append(item)
    return out


def _row(row: _Element, depth: int) -> list[Any]:
    cells: list[list[Any]] = []
    for cell in row.children:
        if isinstance(cell, _Element):
            content = _inline(cell.children, depth + 1)
            if not _blank(content):
                cells.append(content)
    line: list[Any] = []
    for index, cell in enumerate(cells):
        if index:
            line.append(_chars(_CELL_SEPARATOR))
        line.extend(cell)
    return line


def _table(node: _Element, depth: int) -> list[Any]:
    rows: list[_Element] = []
    pending = list(node.children)
    while pending:  # rows sit in thead/tbody/tfoot or directly in the table
        item = pending.pop(0)
        if isinstance(item, _Element) and item.name == "tr":
            rows.append(item)
        elif isinstance(item, _Element) and item.name in ("thead", "tbody", "tfoot"):
            pending[0:0] = item.children
        elif isinstance(item, _Element) and item.name == "caption":
            rows.append(_wrap("tr", [_wrap("td", [_wrap("strong", item.children)])]))
    lines: list[Any] = []
    for row in rows:
        line = _row(row, depth)
        if line:
            if lines:
                lines.append(_br())
            lines.extend(line)
    return [_wrap("p", _trim(lines))] if lines else []


def _convert(node: _Element, depth: int, *, block: bool) -> list[Any]:
    """What one element becomes; in inline context (``block`` false) never a block."""
    name = node.name
    if name in HEADINGS or name in ("dt", "summary", "caption"):
        strong = _wrap("strong", _inline(node.children, depth + 1))
        return [_wrap("p", [strong])] if block else [strong, _br()]
    if name == "table":
        rows = _table(node, depth)
        return rows if block else _flatten(rows)
    if name in CONTAINERS:
        inner = _rewrite(node.children, depth + 1, block=block)
        if not block:
            return [*_flatten(inner), _br()]
        return _paragraphs(inner)
    if name in ("p", "pre"):
        node.children = _inline(node.children, depth + 1)
        return [node] if block else [*node.children, _br()]
    if block and name in _BLOCK_HOLDERS:
        node.children = _rewrite(node.children, depth + 1, block=True)
    else:
        node.children = _inline(node.children, depth + 1)
    return [node]


def _rewrite(items: list[Any], depth: int, *, block: bool) -> list[Any]:
    out: list[Any] = []
    for item in items:
        if isinstance(item, _Element):
            if depth >= MAX_DEPTH:
                out.extend(_text(item))
            else:
                out.extend(_convert(item, depth, block=block))
        elif item["type"] == "EmptyTag" and item["name"] in VOID_DROPPED:
            out.extend(_alt(item) if item["name"] == "img" else [])
        else:
            out.append(item)
    return out


def _emit(items: list[Any]) -> Iterator[Token]:
    pending: list[Any] = list(reversed(items))
    while pending:
        item = pending.pop()
        if isinstance(item, _Element):
            pending.append({"type": "EndTag", "name": item.name, "namespace": None})
            pending.extend(reversed(item.children))
            yield item.start
        else:
            yield item


def restructure(tokens: Iterable[Token]) -> Iterator[Token]:
    """Tokens of a post's HTML with its structure rewritten as the module docstring says.

    Text at the top level (and inside list items and quotes) stays as it is, so a Mastodon
    post, which is already paragraphs, comes out unchanged, and a second pass changes nothing.
    """
    yield from _emit(_rewrite(_tree(tokens), 0, block=True))
