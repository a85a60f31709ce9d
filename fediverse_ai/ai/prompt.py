"""Building the chat for a mention: system prompt, thread context, the request. Pure.

Remote text is attacker-controlled. Every string of someone other than the asker (what they
wrote, and who they are: display names and handles are remote strings too) enters the
conversation only inside ``<untrusted>`` blocks that the system prompt tells the model to read
as data. The asker's own question is the user turn itself, as in any chat: it is what the model
is there to answer, and wrapping it as data cost small models most of their answers (issue 12:
the 0.5B Qwen went from 1.5 to 8.5 of 15; BENCHMARKS.md, "Offline text models"). It never
becomes system text, and its name is left out (nothing in it is needed to answer).

Markers and chat-template tokens are stripped from every remote string, the question included,
to a fixed point, so that nobody can close a block early or open a turn of another role, not
even with nested pieces (``</untr</untrusted>usted>``) that one pass would join into a marker.
The same stripping cleans the model's answer: a model that echoes a marker must not publish it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from .base import ChatMessage

# Lenient on purpose: spaces, attributes and a missing ">" still read as a marker to a model.
_MARKER = re.compile(r"<\s*/?\s*untrusted\b[^<>]*>?", re.IGNORECASE)
# Chat-template control tokens (ChatML's <|im_start|>, Llama's <|eot_id|>) written as text.
_CHAT_TOKEN = re.compile(r"<\|[^<>|\s]{0,40}\|>")
_AUTHOR_CHARS = 200


@dataclass(frozen=True)
class ContextPost:
    author: str  # "Name (@user@host)"
    text: str  # plain text
    by_ai: bool  # written by the AI actor itself: becomes an assistant turn
    note_id: int | None = None  # the stored post, for its pictures


def strip_markup(text: str) -> str:
    """``text`` without any delimiter the prompt uses, removed until none is left."""
    while True:
        cleaned = _CHAT_TOKEN.sub("", _MARKER.sub("", text))
        if cleaned == text:
            return cleaned
        text = cleaned


def _label(author: str) -> str:
    # One line: a display name with newlines must not pass for a line of the prompt's own.
    return " ".join(strip_markup(author).split())[:_AUTHOR_CHARS] or "someone"


def _untrusted(author: str, text: str) -> str:
    return f"<untrusted>\nFrom: {_label(author)}\n{strip_markup(text).strip()}\n</untrusted>"


def untrusted_block(author: str, text: str) -> str:
    """Text written by someone else, marked as data for the model (public form)."""
    return _untrusted(author, text) if text.strip() else ""


def build_messages(
    *,
    system_prompt: str,
    request: str,
    ancestors: Sequence[ContextPost],
    context_chars: int,
    pages: Sequence[tuple[str, str]] = (),
    notes: Sequence[str] = (),
    images: Sequence[str] = (),
) -> list[ChatMessage]:
    """Oldest ancestors first; the oldest are dropped first when over the budget.

    ``pages`` are ``(label, text)`` of links read for this request: somebody else's words,
    so data like the thread. ``notes`` are our own facts about the request (a link that could
    not be read), told to the model after it. ``images`` (data URLs) go with the request.
    """
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
            messages.append(ChatMessage("assistant", strip_markup(post.text).strip()))
        else:
            messages.append(
                ChatMessage("user", "Earlier in the thread:\n" + _untrusted(post.author, post.text))
            )
    for label, text in pages:
        messages.append(
            ChatMessage(
                "user", "A web page linked in the thread, read for you:\n" + _untrusted(label, text)
            )
        )
    ask = strip_markup(request).strip()
    if notes:
        ask += "\n" + "\n".join(notes)
    messages.append(ChatMessage("user", ask, tuple(images)))
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
