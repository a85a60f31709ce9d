"""Consent: accounts that say #nobot, #noai or #nollm in their profile are left alone, and
posts are used beyond a reply only with the author's ``indexable`` (and local switch)."""

from __future__ import annotations

import re
from collections.abc import Iterable

from ..models import Actor

_OPT_OUT = re.compile(r"#(?:nobot|noai|nollm)\b", re.IGNORECASE)


def opted_out(summary: str, fields: Iterable[tuple[str, str]] = ()) -> bool:
    """True when the profile text or a profile field carries an opt-out hashtag."""
    if _OPT_OUT.search(summary or ""):
        return True
    return any(_OPT_OUT.search(f"{name} {value}") for name, value in fields)


def author_allows_ai(author: Actor, *, local_switch: bool = True) -> bool:
    """Whether the AI may use this author's posts beyond answering them (the For-you
    embeddings): ``indexable`` (Mastodon's opt-in to search, false for remote accounts that do
    not say), no opt-out hashtag in the name, bio or fields, and for a local author their own
    "AI may use my posts" switch. Bots are treated like anyone else: their ``indexable`` says."""
    if not author.indexable or not local_switch:
        return False
    return not opted_out(f"{author.display_name} {author.summary}", author.fields)
