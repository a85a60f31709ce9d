"""Outgoing AS2 JSON, built in one place from domain records."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .models import Actor, Media, Note
from .vocab import AI_LABEL_TERM, CONTEXT, PUBLIC, format_time

JsonDict = dict[str, Any]


def actor_document(actor: Actor, *, webfinger: str, icon_type: str = "image/png") -> JsonDict:
    doc: JsonDict = {
        "@context": CONTEXT,
        "id": actor.uri,
        "type": actor.type,
        "preferredUsername": actor.username,
        "name": actor.display_name,
        "summary": actor.summary,
        "url": actor.url,
        "inbox": actor.inbox,
        "outbox": actor.outbox,
        "followers": actor.followers_url,
        "following": actor.following_url,
        "featured": actor.featured_url,
        "endpoints": {"sharedInbox": actor.shared_inbox},
        "publicKey": {
            "id": actor.public_key_id,
            "owner": actor.uri,
            "publicKeyPem": actor.public_key_pem,
        },
        "manuallyApprovesFollowers": actor.manually_approves,
        "discoverable": actor.discoverable,
        "indexable": actor.indexable,
        "published": format_time(actor.published),
        "webfinger": webfinger,
        "attachment": [
            {"type": "PropertyValue", "name": name, "value": value} for name, value in actor.fields
        ],
        "tag": [],
    }
    if actor.also_known_as:
        doc["alsoKnownAs"] = list(actor.also_known_as)
    if actor.moved_to:
        doc["movedTo"] = actor.moved_to
    if actor.icon_url:
        doc["icon"] = {
            "type": "Image",
            "mediaType": _typed(actor.icon_url, icon_type),
            "url": actor.icon_url,
        }
    if actor.image_url:
        doc["image"] = {
            "type": "Image",
            "mediaType": _typed(actor.image_url, icon_type),
            "url": actor.image_url,
        }
    return doc


_PROFILE_ONLY = frozenset({"icon", "image", "alsoKnownAs", "movedTo"})


def suspended_actor(doc: JsonDict) -> JsonDict:
    """What Mastodon serves of an account its admin suspended: ``suspended: true``, the keys
    and inboxes (peers still verify and address it), nothing of the profile."""
    kept = {k: v for k, v in doc.items() if k not in _PROFILE_ONLY}
    blank = {"name": "", "summary": "", "attachment": [], "tag": []}
    return {**kept, **blank, "discoverable": False, "indexable": False, "suspended": True}


def _typed(url: str, default: str) -> str:
    """A profile image's type: the generated ones are PNG, an uploaded photo is a JPEG."""
    return "image/jpeg" if url.endswith(".jpg") else default


def attachment(media: Media, focus: tuple[float, float] = (0.0, 0.0)) -> JsonDict:
    doc: JsonDict = {
        "type": "Image" if media.media_type.startswith("image/") else "Document",
        "mediaType": media.media_type,
        "url": media.url,
        "name": media.description or None,
        "summary": media.description or None,
        "blurhash": media.blurhash,
        "focalPoint": [focus[0], focus[1]],
        "width": media.width,
        "height": media.height,
    }
    if media.ai_generated:
        doc[AI_LABEL_TERM] = True
    return doc


def note_object(
    note: Note,
    author: Actor,
    media: Sequence[Media],
    *,
    replies_url: str,
    focus: Mapping[int, tuple[float, float]] | None = None,
) -> JsonDict:
    """The Note; ``focus``: focal points by media id (uploads through the client API)."""
    doc: JsonDict = {
        "id": note.uri,
        "type": "Note",
        "attributedTo": author.uri,
        "content": note.content,
        "published": note.published_text,
        "url": note.url or note.uri,
        "to": list(note.to),
        "cc": list(note.cc),
        "inReplyTo": note.in_reply_to_uri,
        "sensitive": note.sensitive,
        "summary": note.summary,
        "tag": list(note.tags),
        "attachment": [attachment(m, (focus or {}).get(m.id, (0.0, 0.0))) for m in media],
        "replies": replies_url,
    }
    if note.context_uri:
        doc["context"] = note.context_uri
        doc["conversation"] = note.context_uri
    if note.language:
        doc["contentMap"] = {note.language: note.content}
    if note.updated_text:
        doc["updated"] = note.updated_text
    if note.ai_generated:
        doc[AI_LABEL_TERM] = True
    return doc


def with_context(obj: JsonDict) -> JsonDict:
    return {"@context": CONTEXT, **obj}


def activity(
    activity_type: str,
    *,
    activity_id: str,
    actor: str,
    obj: Any,
    to: Sequence[str] = (),
    cc: Sequence[str] = (),
    published: float | None = None,
    target: str | None = None,
) -> JsonDict:
    doc: JsonDict = {
        "@context": CONTEXT,
        "id": activity_id,
        "type": activity_type,
        "actor": actor,
        "object": obj,
    }
    if target is not None:
        doc["target"] = target
    if to:
        doc["to"] = list(to)
    if cc:
        doc["cc"] = list(cc)
    if published is not None:
        doc["published"] = format_time(published)
    return doc


def outbox_create(note: Note, obj: JsonDict) -> JsonDict:
    """A post's ``Create`` as an outbox (or an archive's ``outbox.json``) lists it."""
    create = activity(
        "Create",
        activity_id=f"{note.uri}/activity",
        actor=str(obj["attributedTo"]),
        obj=obj,
        to=note.to,
        cc=note.cc,
        published=note.published,
    )
    return strip_context(create)


def flag(*, activity_id: str, actor: str, objects: Sequence[str], content: str) -> JsonDict:
    """A report, as Mastodon sends one: from the instance actor (the reporter stays anonymous
    to the other server), ``object`` the account then its posts, ``content`` the comment."""
    return activity("Flag", activity_id=activity_id, actor=actor, obj=list(objects)) | {
        "content": content
    }


def strip_context(doc: JsonDict) -> JsonDict:
    """An activity embedded in another (Undo, Accept) carries no @context of its own."""
    return {k: v for k, v in doc.items() if k != "@context"}


def tombstone(uri: str, *, deleted: float) -> JsonDict:
    return {"id": uri, "type": "Tombstone", "formerType": "Note", "deleted": format_time(deleted)}


def actor_tombstone(uri: str) -> JsonDict:
    """What a deleted local actor's id answers (with 410 Gone) until the account is purged."""
    return with_context({"id": uri, "type": "Tombstone", "formerType": "Person"})


def announce_addressing(author_uri: str, followers_url: str) -> tuple[list[str], list[str]]:
    return [PUBLIC], [author_uri, followers_url]


def ordered_collection(collection_id: str, *, total: int, first: str | None) -> JsonDict:
    doc: JsonDict = {
        "@context": CONTEXT,
        "id": collection_id,
        "type": "OrderedCollection",
        "totalItems": total,
    }
    if first:
        doc["first"] = first
    return doc


def ordered_page(
    page_id: str, *, part_of: str, items: Sequence[Any], next_page: str | None, total: int
) -> JsonDict:
    doc: JsonDict = {
        "@context": CONTEXT,
        "id": page_id,
        "type": "OrderedCollectionPage",
        "partOf": part_of,
        "totalItems": total,
        "orderedItems": list(items),
    }
    if next_page:
        doc["next"] = next_page
    return doc


def webfinger(*, subject: str, actor_uri: str, profile_url: str, subscribe: str | None) -> JsonDict:
    links: list[JsonDict] = [
        {"rel": "self", "type": "application/activity+json", "href": actor_uri},
        {"rel": "http://webfinger.net/rel/profile-page", "type": "text/html", "href": profile_url},
    ]
    if subscribe:
        links.append({"rel": "http://ostatus.org/schema/1.0/subscribe", "template": subscribe})
    return {"subject": subject, "aliases": [profile_url, actor_uri], "links": links}


def nodeinfo(
    version: str,
    *,
    software_version: str,
    open_registrations: bool,
    users: int,
    local_posts: int,
    node_name: str,
    node_description: str,
) -> JsonDict:
    software: JsonDict = {"name": "fediverse-ai", "version": software_version}
    if version == "2.1":
        software["repository"] = "https://github.com/fediverse-ai/fediverse-ai"
        software["homepage"] = "https://github.com/fediverse-ai/fediverse-ai"
    return {
        "version": version,
        "software": software,
        "protocols": ["activitypub"],
        "services": {"inbound": [], "outbound": []},
        "openRegistrations": open_registrations,
        "usage": {
            "users": {"total": users, "activeMonth": users, "activeHalfyear": users},
            "localPosts": local_posts,
        },
        "metadata": {"nodeName": node_name, "nodeDescription": node_description},
    }
