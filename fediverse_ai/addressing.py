"""Visibility <-> to/cc, the Mastodon addressing table (interop checklist §6)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from .models import Visibility
from .vocab import PUBLIC, PUBLIC_ALIASES


def address(
    visibility: Visibility, *, followers_url: str, mentioned: Sequence[str]
) -> tuple[list[str], list[str]]:
    """Return (to, cc) for a post; mentioned actors always get it (notifications need both)."""
    mentioned = list(dict.fromkeys(mentioned))
    if visibility == "public":
        return [PUBLIC], [followers_url, *mentioned]
    if visibility == "unlisted":
        return [followers_url], [PUBLIC, *mentioned]
    if visibility == "followers":
        return [followers_url], mentioned
    return mentioned, []


def infer_visibility(
    to: Iterable[str], cc: Iterable[str], *, followers_url: str | None
) -> Visibility:
    """How a received post was addressed, in the same four levels we publish."""
    to_set, cc_set = set(to), set(cc)
    if to_set & PUBLIC_ALIASES:
        return "public"
    if cc_set & PUBLIC_ALIASES:
        return "unlisted"
    if followers_url and followers_url in (to_set | cc_set):
        return "followers"
    # Servers that address followers without telling us their collection URL still
    # use a URL ending in /followers; treat that as followers-only, not direct.
    if any(a.endswith("/followers") for a in to_set | cc_set):
        return "followers"
    return "direct"


def narrowest(a: Visibility, b: Visibility) -> Visibility:
    order: tuple[Visibility, ...] = ("public", "unlisted", "followers", "direct")
    return a if order.index(a) >= order.index(b) else b


def is_public(to: Iterable[str], cc: Iterable[str]) -> bool:
    return PUBLIC in set(to) | set(cc)
