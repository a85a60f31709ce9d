"""Incoming AS2 JSON -> small frozen dataclasses, in one place.

Nothing outside this module reads raw remote dicts. Parsers accept the shapes
real servers send (scalars or lists, inline objects or ids, language maps) and
raise ``BadRequest`` when a document lacks what we cannot do without.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape
from typing import Any

from .as2_emoji import EmojiRef, emojis_of, stored_tag, without_emoji
from .as2_media import IncomingAttachment, attachment_of, first_url, media_of_object, page_url
from .as2_poll import IncomingPoll, parse_poll
from .as2_quote import QuoteRef, quote_of
from .errors import BadRequest
from .vocab import (
    ACTOR_TYPES,
    AI_LABEL_TERM,
    as_list,
    id_of,
    ids_of,
    normalise_public,
    parse_time,
    same_origin,
    str_or_none,
    type_of,
)

NOTE_TYPES = frozenset({"Note", "Article", "Question", "Page", "Image", "Video", "Audio", "Event"})
#: Types whose ``name`` is a title and whose ``summary`` is an excerpt, not a content warning.
TITLED_TYPES = frozenset({"Article", "Page", "Video", "Audio", "Event"})

#: ``content`` that is not HTML (PeerTube's descriptions are Markdown): shown as text.
_PLAIN_TYPES = frozenset({"text/markdown", "text/plain"})

__all__ = [
    "NOTE_TYPES",
    "TITLED_TYPES",
    "IncomingActivity",
    "IncomingAttachment",
    "IncomingNote",
    "RemoteActorDoc",
    "parse_activity",
    "parse_actor",
    "parse_note",
    "plain_to_html",
]


@dataclass(frozen=True)
class IncomingActivity:
    id: str
    type: str
    actor: str
    object: Any
    object_id: str | None
    object_type: str | None
    target: str | None
    to: tuple[str, ...]
    cc: tuple[str, ...]
    content: str | None
    raw: dict[str, Any]
    emojis: tuple[EmojiRef, ...] = ()  # an EmojiReact's custom emoji, in its ``tag``


@dataclass(frozen=True)
class RemoteActorDoc:
    uri: str
    type: str
    username: str
    inbox: str
    display_name: str = ""
    summary: str = ""
    url: str | None = None
    shared_inbox: str | None = None
    outbox: str | None = None
    followers: str | None = None
    following: str | None = None
    featured: str | None = None
    icon_url: str | None = None
    image_url: str | None = None
    key_id: str | None = None
    key_pem: str | None = None
    key_owner: str | None = None
    manually_approves: bool = False
    discoverable: bool = False
    indexable: bool = False
    fields: tuple[tuple[str, str], ...] = ()
    published: float | None = None
    also_known_as: tuple[str, ...] = ()
    moved_to: str | None = None
    emojis: tuple[EmojiRef, ...] = ()  # declared for its name, bio and fields


@dataclass(frozen=True)
class IncomingNote:
    uri: str
    type: str
    attributed_to: str
    content: str
    to: tuple[str, ...]
    cc: tuple[str, ...]
    summary: str | None = None
    sensitive: bool = False
    language: str | None = None
    in_reply_to: str | None = None
    context: str | None = None
    url: str | None = None
    mentions: tuple[str, ...] = ()
    hashtags: tuple[str, ...] = ()
    tags: tuple[dict[str, Any], ...] = ()
    attachments: tuple[IncomingAttachment, ...] = ()
    published: float | None = None
    updated: float | None = None
    ai_generated: bool = False
    title: str | None = None  # an Article's, Page's, Video's or Audio's name
    poll: IncomingPoll | None = None  # a Question's options and counts
    quote: QuoteRef | None = None  # the post it quotes (as2_quote)
    emojis: tuple[EmojiRef, ...] = ()  # its custom emoji (also among ``tags``, checked)


def parse_activity(doc: Any) -> IncomingActivity:
    if not isinstance(doc, dict):
        raise BadRequest("activity must be a JSON object")
    act_id = str_or_none(doc.get("id"))
    act_type = type_of(doc)
    actor = id_of(doc.get("actor"))
    if not act_id or not act_type or not actor:
        raise BadRequest("activity needs id, type and actor")
    obj = doc.get("object")
    return IncomingActivity(
        id=act_id,
        type=act_type,
        actor=actor,
        object=obj,
        object_id=id_of(obj),
        object_type=type_of(obj),
        target=id_of(doc.get("target")),
        to=tuple(normalise_public(ids_of(doc.get("to")))),
        cc=tuple(normalise_public(ids_of(doc.get("cc")))),
        content=str_or_none(doc.get("content")),
        raw=doc,
        emojis=emojis_of(as_list(doc.get("tag"))),
    )


def parse_actor(doc: Any) -> RemoteActorDoc:
    if not isinstance(doc, dict):
        raise BadRequest("actor must be a JSON object")
    uri = str_or_none(doc.get("id"))
    actor_type = type_of(doc)
    inbox = id_of(doc.get("inbox"))
    if not uri or actor_type not in ACTOR_TYPES or not inbox:
        raise BadRequest("actor document needs id, an actor type and inbox")
    username = str_or_none(doc.get("preferredUsername")) or uri.rstrip("/").rsplit("/", 1)[-1]
    key = doc.get("publicKey")
    if isinstance(key, list):
        key = next((k for k in key if isinstance(k, dict)), None)
    key_id = key_pem = key_owner = None
    if isinstance(key, dict):
        key_id = str_or_none(key.get("id"))
        key_pem = str_or_none(key.get("publicKeyPem"))
        key_owner = id_of(key.get("owner"))
    endpoints = doc.get("endpoints")
    shared = id_of(endpoints.get("sharedInbox")) if isinstance(endpoints, dict) else None
    fields = tuple(
        (str(f.get("name", ""))[:255], str(f.get("value", ""))[:2048])
        for f in as_list(doc.get("attachment"))
        if isinstance(f, dict) and f.get("type") == "PropertyValue"
    )
    return RemoteActorDoc(
        uri=uri,
        type=actor_type or "Person",
        username=username[:255],
        inbox=inbox,
        display_name=(str_or_none(doc.get("name")) or "")[:255],
        summary=(str_or_none(doc.get("summary")) or "")[:20_000],
        url=first_url(doc.get("url")),
        shared_inbox=shared,
        outbox=id_of(doc.get("outbox")),
        followers=id_of(doc.get("followers")),
        following=id_of(doc.get("following")),
        featured=id_of(doc.get("featured")),
        icon_url=first_url(doc.get("icon")),
        image_url=first_url(doc.get("image")),
        key_id=key_id,
        key_pem=key_pem,
        key_owner=key_owner,
        manually_approves=doc.get("manuallyApprovesFollowers") is True,
        discoverable=doc.get("discoverable") is True,
        indexable=doc.get("indexable") is True,
        fields=fields,
        published=parse_time(doc.get("published")),
        also_known_as=tuple(ids_of(doc.get("alsoKnownAs"))[:20]),
        moved_to=id_of(doc.get("movedTo")),
        emojis=emojis_of(as_list(doc.get("tag"))),
    )


def parse_note(obj: Any) -> IncomingNote:
    if not isinstance(obj, dict):
        raise BadRequest("object must be a JSON object")
    uri = str_or_none(obj.get("id"))
    note_type = type_of(obj)
    attributed = ids_of(obj.get("attributedTo"))
    if not uri or note_type not in NOTE_TYPES or not attributed:
        raise BadRequest("note needs id, a note type and attributedTo")
    # Several authors are real (PeerTube: the account and its channel), but all of them on
    # the note's own host: one on another host is a claim on someone else's name.
    if not all(same_origin(a, uri) for a in attributed):
        raise BadRequest("a note's authors must be on its own host")
    content = str_or_none(obj.get("content"))
    language = None
    content_map = obj.get("contentMap")
    if isinstance(content_map, dict) and content_map:
        language, mapped = next(iter(content_map.items()))
        if content is None and isinstance(mapped, str):
            content = mapped
        language = language if isinstance(language, str) and len(language) <= 16 else None
    if str_or_none(obj.get("mediaType")) in _PLAIN_TYPES and content:
        content = plain_to_html(content)
    title = None
    if note_type in TITLED_TYPES and (name := str_or_none(obj.get("name"))):
        title = " ".join(name.split())[:500] or None
    raw_tags = [t for t in as_list(obj.get("tag")) if isinstance(t, dict)]
    emojis = emojis_of(raw_tags)
    # Kept with the note: its other tags as sent, and its emoji only in their checked form.
    tags = (*without_emoji(raw_tags)[:100], *(stored_tag(e) for e in emojis))
    mentions = tuple(h for t in raw_tags if t.get("type") == "Mention" and (h := id_of(t)))
    hashtags = tuple(
        n.lstrip("#").lower()
        for t in raw_tags
        if t.get("type") == "Hashtag" and isinstance(n := t.get("name"), str) and n.lstrip("#")
    )
    attachments = tuple(a for item in as_list(obj.get("attachment")) if (a := attachment_of(item)))
    if note_type in ("Video", "Audio") and (own := media_of_object(obj, note_type)):
        attachments = (own, *attachments)
    return IncomingNote(
        uri=uri,
        type=note_type or "Note",
        attributed_to=attributed[0],
        content=(content or "")[:100_000],
        to=tuple(normalise_public(ids_of(obj.get("to")))),
        cc=tuple(normalise_public(ids_of(obj.get("cc")))),
        summary=str_or_none(obj.get("summary")) or None,
        sensitive=obj.get("sensitive") is True,
        language=language,
        in_reply_to=id_of(obj.get("inReplyTo")),
        context=id_of(obj.get("context")) or id_of(obj.get("conversation")),
        url=page_url(obj.get("url")),
        mentions=mentions,
        hashtags=hashtags,
        tags=tags,
        attachments=attachments[:16],
        published=parse_time(obj.get("published")),
        updated=parse_time(obj.get("updated")),
        ai_generated=obj.get(AI_LABEL_TERM) is True,
        title=title,
        poll=parse_poll(obj),
        quote=quote_of(obj),
        emojis=emojis,
    )


def plain_to_html(text: str) -> str:
    """Text (or Markdown, read as text) as paragraphs and line breaks, every character escaped."""
    paragraphs = [p.strip("\n") for p in text.replace("\r\n", "\n").split("\n\n")]
    return "".join(
        "<p>" + "<br>".join(escape(line) for line in p.split("\n")) + "</p>"
        for p in paragraphs
        if p
    )
