"""Building the chat for a mention: system prompt, thread context, the request. Pure.

Remote text is attacker-controlled. It enters the conversation only inside
``<untrusted>`` blocks that the system prompt tells the model to read as data; the
markers are stripped from the text itself so that nobody can close the block early.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from .base import ChatMessage

_MARKERS = re.compile(r"</?\s*untrusted[^>]*>", re.IGNORECASE)


@dataclass(frozen=True)
class ContextPost:
    author: str  # "Name (@user@host)"
    text: str  # plain text
    by_ai: bool  # written by the AI actor itself: becomes an assistant turn


def _untrusted(author: str, text: str) -> str:
    clean = _MARKERS.sub("", text).strip()
    return f"<untrusted author={_MARKERS.sub('', author)!r}>\n{clean}\n</untrusted>"


def untrusted_block(author: str, text: str) -> str:
    """Text written by someone else, marked as data for the model (public form)."""
    return _untrusted(author, text) if text.strip() else ""


def build_messages(
    *,
    system_prompt: str,
    request: str,
    author: str,
    ancestors: Sequence[ContextPost],
    context_chars: int,
) -> list[ChatMessage]:
    """Oldest ancestors first; the oldest are dropped first when over the budget."""
    kept: list[ContextPost] = []
    used = 0
    for post in reversed(ancestors):  # newest first, so the closest context survives
        cost = len(post.text) + len(post.author)
        if used + cost > context_chars:
            break
        kept.append(post)
        used += cost
    messages = [ChatMessage("system", system_prompt)]
    for post in reversed(kept):
        if post.by_ai:
            messages.append(ChatMessage("assistant", post.text.strip()))
        else:
            messages.append(
                ChatMessage("user", "Earlier in the thread:\n" + _untrusted(post.author, post.text))
            )
    messages.append(
        ChatMessage(
            "user",
            f"{author} asks you (answer them directly):\n" + _untrusted(author, request),
        )
    )
    return messages


def split_for_posts(text: str, *, limit: int, max_posts: int) -> list[str]:
    """Cut an answer into posts of at most ``limit`` characters, at sentence or word ends."""
    text = re.sub(r"\n{3,}", "\n\n", text.strip())
    posts: list[str] = []
    while text and len(posts) < max_posts:
        if len(text) <= limit:
            posts.append(text)
            text = ""
            break
        window = text[:limit]
        cut = max(window.rfind(". "), window.rfind("! "), window.rfind("? "), window.rfind("\n"))
        if cut < limit // 3:
            cut = window.rfind(" ")
        if cut < limit // 3:
            cut = limit - 1
        posts.append(text[: cut + 1].strip())
        text = text[cut + 1 :].strip()
    if text and posts:
        last = posts[-1]
        posts[-1] = (last[: limit - 1].rstrip() + "…") if len(last) >= limit else last + "…"
    return posts
