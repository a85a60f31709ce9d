"""Quote posts (FEP-044f as Mastodon 4.5 speaks it, and the older quote properties): pure.

A quoting note names the quoted post in ``quote`` (FEP-044f) or, from servers that predate
it, ``quoteUrl`` (Misskey, Akkoma), ``_misskey_quote`` (Misskey) or ``quoteUri`` (Fedibird).
Only FEP-044f has consent: the quoted author's server issues a ``QuoteAuthorization`` stamp,
and the quoting note points at it in ``quoteAuthorization``. Nothing here does I/O: the
checks take the documents and ids the caller fetched and knows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from .errors import BadRequest
from .vocab import PUBLIC, as_list, id_of, same_origin, str_or_none, type_of

#: Newest first: when a note carries several, the FEP-044f one wins.
QUOTE_PROPERTIES = ("quote", "quoteUrl", "_misskey_quote", "quoteUri")
QuoteKind = Literal["fep044f", "legacy"]
QuotePolicy = Literal["public", "followers", "nobody"]
QUOTE_POLICIES: tuple[QuotePolicy, ...] = ("public", "followers", "nobody")

_MAX_URI = 2048


@dataclass(frozen=True)
class QuoteRef:
    """What a note says it quotes."""

    uri: str
    kind: QuoteKind
    authorization: str | None = None  # the stamp's id, FEP-044f only


@dataclass(frozen=True)
class QuoteStamp:
    """A ``QuoteAuthorization`` document."""

    uri: str
    attributed_to: str
    interacting_object: str
    interaction_target: str


@dataclass(frozen=True)
class QuoteRequestDoc:
    """An incoming ``QuoteRequest``: ``actor`` asks to quote ``quoted`` in ``quoting``."""

    id: str
    actor: str
    quoted: str
    quoting: str
    quoting_inline: dict[str, Any] | None


def _uri(value: Any) -> str | None:
    uri = id_of(value)
    if uri is None or len(uri) > _MAX_URI or not uri.startswith(("https://", "http://")):
        return None
    return uri


def quote_of(obj: dict[str, Any]) -> QuoteRef | None:
    """The post a note quotes, from whichever property it uses; None when it quotes nothing.

    A list (which no server sends) is read as its first entry: one quote per note, as in
    Mastodon. A note quoting itself quotes nothing.
    """
    for name in QUOTE_PROPERTIES:
        values = as_list(obj.get(name))
        uri = _uri(values[0]) if values else None
        if uri is None or uri == obj.get("id"):
            continue
        if name == "quote":
            return QuoteRef(uri, "fep044f", _uri(obj.get("quoteAuthorization")))
        return QuoteRef(uri, "legacy")
    return None


def parse_stamp(doc: Any) -> QuoteStamp:
    """A fetched ``QuoteAuthorization``; BadRequest when it is not one."""
    if not isinstance(doc, dict) or type_of(doc) != "QuoteAuthorization":
        raise BadRequest("not a QuoteAuthorization")
    uri = str_or_none(doc.get("id"))
    author = _uri(doc.get("attributedTo"))
    quoting = _uri(doc.get("interactingObject"))
    quoted = _uri(doc.get("interactionTarget"))
    if not uri or not author or not quoting or not quoted:
        raise BadRequest("a QuoteAuthorization needs id, attributedTo and both objects")
    return QuoteStamp(uri, author, quoting, quoted)


def stamp_problem(
    stamp: QuoteStamp, *, fetched_from: str, quoting: str, quoted: str, quoted_author: str
) -> str | None:
    """Why ``stamp`` does not authorise ``quoting`` to quote ``quoted``; None when it does.

    FEP-044f: the stamp is the one at the URL the quoting note named, it lives on the quoted
    post's server and is its author's, and it names exactly this pair of posts. A stamp from
    any other host proves nothing, and one for another note would let any quote reuse it.
    """
    if stamp.uri != fetched_from:
        return "the stamp's id is not the URL it was fetched from"
    if not same_origin(stamp.uri, quoted):
        return "the stamp is not on the quoted post's server"
    if stamp.attributed_to != quoted_author:
        return "the stamp is not the quoted author's"
    if stamp.interaction_target != quoted:
        return "the stamp is for another quoted post"
    if stamp.interacting_object != quoting:
        return "the stamp is for another quoting post"
    return None


def parse_quote_request(doc: dict[str, Any]) -> QuoteRequestDoc:
    """An incoming ``QuoteRequest`` (its ``instrument`` is the quoting note, inline or by id)."""
    act_id = str_or_none(doc.get("id"))
    actor = id_of(doc.get("actor"))
    quoted = _uri(doc.get("object"))
    instrument = doc.get("instrument")
    quoting = _uri(instrument)
    if not act_id or not actor or not quoted or not quoting:
        raise BadRequest("a QuoteRequest needs id, actor, object and instrument")
    inline = instrument if isinstance(instrument, dict) else None
    return QuoteRequestDoc(act_id, actor, quoted, quoting, inline)


def default_policy(visibility: str) -> QuotePolicy:
    """Who may quote a post when its author chose nothing: the issue's per-post default."""
    if visibility == "public":
        return "public"
    if visibility == "unlisted":
        return "followers"
    return "nobody"


def interaction_policy(policy: QuotePolicy, *, author: str, followers_url: str) -> dict[str, Any]:
    """The ``interactionPolicy`` of one of our posts (Mastodon 4.5's shape): who is approved
    automatically; everyone else is refused, so nobody is listed for manual approval. The
    author may always quote themselves."""
    automatic = {"public": [PUBLIC], "followers": [followers_url], "nobody": []}[policy]
    return {"canQuote": {"automaticApproval": [*automatic, author], "manualApproval": []}}


def quote_properties(quoted: str, authorization: str | None) -> dict[str, Any]:
    """What our quoting note carries: ``quote`` and, as Mastodon 4.5 sends for servers that
    predate FEP-044f, ``_misskey_quote`` and ``quoteUri``; the stamp once we hold one."""
    doc: dict[str, Any] = {"quote": quoted, "_misskey_quote": quoted, "quoteUri": quoted}
    if authorization:
        doc["quoteAuthorization"] = authorization
    return doc


def stamp_document(stamp: QuoteStamp) -> dict[str, Any]:
    """A stamp we issued, as served at its id."""
    return {
        "id": stamp.uri,
        "type": "QuoteAuthorization",
        "attributedTo": stamp.attributed_to,
        "interactingObject": stamp.interacting_object,
        "interactionTarget": stamp.interaction_target,
    }


def quote_request(
    request_id: str, *, actor: str, quoted: str, quoting: dict[str, Any]
) -> dict[str, Any]:
    """Our ``QuoteRequest`` for a quote one of our users wrote (the note inline, as Mastodon)."""
    return {
        "id": request_id,
        "type": "QuoteRequest",
        "actor": actor,
        "object": quoted,
        "instrument": quoting,
    }
