"""ActivityStreams vocabulary: constants and tolerant accessors for untrusted JSON.

Every property of a remote document may be a scalar or a list, an object or a
bare id; these helpers flatten that variety once so the rest of the code does not.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

AS_CONTEXT = "https://www.w3.org/ns/activitystreams"
SECURITY_CONTEXT = "https://w3id.org/security/v1"
PUBLIC = "https://www.w3.org/ns/activitystreams#Public"
PUBLIC_ALIASES = frozenset({PUBLIC, "as:Public", "Public"})
AP_CONTENT_TYPE = "application/activity+json"
AI_LABEL_TERM = "aiGenerated"

#: The JSON-LD terms, as Mastodon 4.5 and GoToSocial define them (part of our context).
QUOTE_TERMS: dict[str, Any] = {
    "gts": "https://gotosocial.org/ns#",
    "fep044f": "https://w3id.org/fep/044f#",
    "quote": {"@id": "fep044f:quote", "@type": "@id"},
    "quoteAuthorization": {"@id": "fep044f:quoteAuthorization", "@type": "@id"},
    "QuoteRequest": "fep044f:QuoteRequest",
    "QuoteAuthorization": "fep044f:QuoteAuthorization",
    "quoteUri": "http://fedibird.com/ns#quoteUri",
    "_misskey_quote": "https://misskey-hub.net/ns#_misskey_quote",
    "interactionPolicy": {"@id": "gts:interactionPolicy", "@type": "@id"},
    "canQuote": {"@id": "gts:canQuote", "@type": "@id"},
    "automaticApproval": {"@id": "gts:automaticApproval", "@type": "@id"},
    "manualApproval": {"@id": "gts:manualApproval", "@type": "@id"},
    "interactingObject": {"@id": "gts:interactingObject", "@type": "@id"},
    "interactionTarget": {"@id": "gts:interactionTarget", "@type": "@id"},
}

# Terms Mastodon and others expect to find defined; a compact shared context.
EXTENSION_CONTEXT: dict[str, Any] = {
    "toot": "http://joinmastodon.org/ns#",
    "schema": "http://schema.org#",
    "fediverseai": "https://fediverse-ai.invalid/ns#",
    "manuallyApprovesFollowers": "as:manuallyApprovesFollowers",
    "sensitive": "as:sensitive",
    "Hashtag": "as:Hashtag",
    "discoverable": "toot:discoverable",
    "indexable": "toot:indexable",
    "suspended": "toot:suspended",
    "featured": {"@id": "toot:featured", "@type": "@id"},
    "blurhash": "toot:blurhash",
    "votersCount": "toot:votersCount",
    "focalPoint": {"@container": "@list", "@id": "toot:focalPoint"},
    "Emoji": "toot:Emoji",
    "PropertyValue": "schema:PropertyValue",
    "value": "schema:value",
    "conversation": "ostatus:conversation",
    "ostatus": "http://ostatus.org#",
    "webfinger": "https://purl.archive.org/socialweb/webfinger#webfinger",
    "alsoKnownAs": {"@id": "as:alsoKnownAs", "@type": "@id"},
    "movedTo": {"@id": "as:movedTo", "@type": "@id"},
    AI_LABEL_TERM: "fediverseai:aiGenerated",
    **QUOTE_TERMS,
}
CONTEXT: list[Any] = [AS_CONTEXT, SECURITY_CONTEXT, EXTENSION_CONTEXT]

BOT_TYPES = frozenset({"Service", "Application"})
ACTOR_TYPES = frozenset({"Person", "Service", "Application", "Group", "Organization"})


def as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, list):
        return value
    return [value]


def id_of(value: Any) -> str | None:
    """The id of an object or link given inline or by reference."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        for key in ("id", "href"):
            v = value.get(key)
            if isinstance(v, str):
                return v
    return None


def ids_of(value: Any) -> list[str]:
    return [i for v in as_list(value) if (i := id_of(v)) is not None]


def type_of(value: Any) -> str | None:
    if isinstance(value, dict):
        t = value.get("type")
        if isinstance(t, str):
            return t
        if isinstance(t, list) and t and isinstance(t[0], str):
            return t[0]
    return None


def str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def normalise_public(addresses: Iterable[str]) -> list[str]:
    return [PUBLIC if a in PUBLIC_ALIASES else a for a in addresses]


def host_of(url: str | None) -> str | None:
    """Lower-cased host[:port] of a URL, or None when there is none."""
    if not url:
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    host = parts.hostname.lower()
    try:
        port = parts.port
    except ValueError:
        return None
    return f"{host}:{port}" if port else host


def same_origin(a: str | None, b: str | None) -> bool:
    ha, hb = host_of(a), host_of(b)
    return ha is not None and ha == hb


def strip_fragment(url: str) -> str:
    return url.split("#", 1)[0]


# The span Python's datetime can write out, years 1 to 9999 (Mastodon keeps the same years).
# A remote "published" of 0001-01-01T00:00:00+01:00 is year 0 in UTC: parsed to a float
# and formatted again it raised, in the inbox job, on every retry.
_EARLIEST = datetime.min.replace(tzinfo=UTC).timestamp()
_LATEST = datetime.max.replace(tzinfo=UTC, microsecond=0).timestamp()


def format_time(ts: float) -> str:
    """AS2 timestamp: UTC, second precision, Z suffix (what Mastodon emits).

    Total: a time beyond years 1-9999 is written as the nearest one within them, and NaN
    as the epoch, since a job that formats a time must not fail on it forever.
    """
    moment = 0.0 if math.isnan(ts) else math.floor(min(max(ts, _EARLIEST), _LATEST))
    # isoformat, not strftime: glibc's %Y writes year 1 as "1", which no parser accepts.
    return datetime.fromtimestamp(moment, UTC).replace(tzinfo=None).isoformat() + "Z"


def parse_time(value: Any) -> float | None:
    """Unix seconds of an AS2 time, or None when it is absent, malformed or beyond years 1-9999."""
    if not isinstance(value, str) or not value:
        return None
    text = value.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    ts = dt.timestamp()
    return ts if _EARLIEST <= ts <= _LATEST else None
