"""JSON from the network, parsed into values the rest of the server can always store. Pure.

Two shapes of valid JSON broke paths that take remote documents (issue 13):

* deep nesting: ``json.loads`` recurses, so ten thousand ``[`` raise ``RecursionError``, an
  exception nothing expects (the inbox answered 500), and a document just under the
  interpreter's limit still breaks any recursive walker after it;
* lone surrogates: ``"\\ud800"`` is valid JSON but no valid Unicode, so the string cannot be
  encoded as UTF-8 and SQLite refused it, after the activity had been accepted: a job that
  failed on every retry.

:func:`loads` refuses the first with ``BadRequest`` and replaces each lone surrogate with
U+FFFD, as a UTF-8 decoder does with invalid bytes, so the document keeps its meaning.
"""

from __future__ import annotations

import json
from typing import Any

from .errors import BadRequest

__all__ = ["MAX_DEPTH", "clean_text", "loads"]

MAX_DEPTH = 64
"""Real activities nest a few levels (an activity, its object, a tag or attachment, a
language map); 64 leaves room for anything a server sends and nothing an attacker needs."""


def loads(data: bytes | str, *, max_depth: int = MAX_DEPTH) -> Any:
    """Parse ``data``; ``BadRequest`` for invalid JSON or nesting deeper than ``max_depth``."""
    try:
        value = json.loads(data)
    except RecursionError:
        raise BadRequest("JSON is nested too deeply") from None
    except (ValueError, UnicodeDecodeError):
        raise BadRequest("body is not valid JSON") from None
    return _clean(value, max_depth)


def clean_text(text: str) -> str:
    """``text`` with each lone surrogate replaced by U+FFFD (it is returned as is when valid)."""
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        # Paired surrogates were already joined by the JSON decoder: what is left is alone.
        return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    return text


def _clean(value: Any, max_depth: int) -> Any:
    """Depth check and surrogate repair in one iterative walk (no recursion to exhaust)."""
    if not isinstance(value, dict | list):
        return clean_text(value) if isinstance(value, str) else value
    stack: list[tuple[dict[str, Any] | list[Any], int]] = [(value, 1)]
    while stack:
        container, depth = stack.pop()
        if depth > max_depth:
            raise BadRequest("JSON is nested too deeply")
        if isinstance(container, dict):
            for key in list(container):
                item = container[key]
                if isinstance(item, str):
                    item = container[key] = clean_text(item)
                elif isinstance(item, dict | list):
                    stack.append((item, depth + 1))
                fixed = clean_text(key)
                if fixed is not key:
                    container[fixed] = container.pop(key)
        else:
            for index, item in enumerate(container):
                if isinstance(item, str):
                    container[index] = clean_text(item)
                elif isinstance(item, dict | list):
                    stack.append((item, depth + 1))
    return value
