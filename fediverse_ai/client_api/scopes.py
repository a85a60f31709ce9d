"""OAuth scopes as Mastodon defines them: ``read``, ``write``, ``follow``, ``push``, ``profile``
and the granular ``read:statuses``-style ones, each covered by its parent."""

from __future__ import annotations

from .errors import OAuthError

TOP = ("read", "write", "follow", "push", "profile")
GRANULAR = {
    "read": (
        "accounts",
        "blocks",
        "bookmarks",
        "favourites",
        "filters",
        "follows",
        "lists",
        "mutes",
        "notifications",
        "search",
        "statuses",
    ),
    "write": (
        "accounts",
        "blocks",
        "bookmarks",
        "conversations",
        "favourites",
        "filters",
        "follows",
        "lists",
        "media",
        "mutes",
        "notifications",
        "reports",
        "statuses",
    ),
}
#: ``follow`` predates the granular scopes; Mastodon still accepts it for these.
FOLLOW_COVERS = frozenset(
    {"read:blocks", "write:blocks", "read:follows", "write:follows", "read:mutes", "write:mutes"}
)
SUPPORTED = TOP + tuple(f"{p}:{g}" for p, names in GRANULAR.items() for g in names)
DEFAULT = ("read",)
#: What the consent page says each top-level scope lets the app do.
DESCRIPTIONS = {
    "read": "read your timelines, posts, notifications, followers and profile",
    "write": "post, reply, favourite, boost and delete on your behalf",
    "follow": "follow and unfollow accounts",
    "push": "receive push notifications",
    "profile": "see your profile only",
}


def describe(scope: str) -> str:
    """A sentence for the consent page (a granular scope names its part of its parent)."""
    if scope in DESCRIPTIONS:
        return DESCRIPTIONS[scope]
    parent, _, part = scope.partition(":")
    verb = "read" if parent == "read" else "change"
    return f"{verb} your {part.replace('_', ' ')}"


def parse(raw: str | None, *, default: tuple[str, ...] = DEFAULT) -> tuple[str, ...]:
    """A space- (or plus-) separated scope list; an unknown scope is ``invalid_scope``."""
    found = tuple(dict.fromkeys(s for s in (raw or "").replace("+", " ").split() if s))
    if not found:
        return default
    for scope in found:
        if scope not in SUPPORTED:
            raise OAuthError(
                "invalid_scope", "The requested scope is invalid, unknown, or malformed."
            )
    return found


def covers(granted: tuple[str, ...], needed: str) -> bool:
    """Whether ``granted`` allows ``needed`` (``read`` covers ``read:statuses``)."""
    if needed in granted:
        return True
    parent = needed.split(":", 1)[0]
    if parent in granted and parent != needed:
        return True
    return needed in FOLLOW_COVERS and "follow" in granted


def within(requested: tuple[str, ...], allowed: tuple[str, ...]) -> bool:
    """Whether every requested scope is one the app registered (or covered by one)."""
    return all(covers(allowed, s) for s in requested)
