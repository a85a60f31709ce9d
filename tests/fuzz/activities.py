"""Valid activities of every type the inbox handles, built from a seed, before any mutation.

A fuzzer that only sends garbage tests the first ``BadRequest``; these are the well-formed
starting points, so that one mutation at a time reaches the deep paths (origin checks,
storage, the worker's handlers, media caching, moves).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from support.remote import PUBLIC, RemoteFediverse

from .mutate import HOSTILE_TEXT, hostile_url, hostile_value

Json = dict[str, Any]

ACTIVITY_TYPES = (
    "Follow", "Undo", "Accept", "Reject", "Create", "Create", "Create", "Update", "Delete",
    "Announce", "Like", "EmojiReact", "Block", "Flag", "Move", "unknown",
)  # fmt: skip
ACTOR_FIELDS = (
    "name", "summary", "icon", "image", "attachment", "alsoKnownAs", "endpoints", "featured",
    "tag", "url", "published", "manuallyApprovesFollowers", "type", "preferredUsername",
    "inbox", "followers", "discoverable", "indexable", "movedTo", "bot", "sharedInbox",
)  # fmt: skip
OBJECT_TYPES = ("Note", "Article", "Question", "Page", "Event", "Image", "Video", "Audio", "Thing")
UNKNOWN_TYPES = ("Add", "Remove", "Listen", "View", "", "create", "Arrive", "QuoteRequest")


@dataclass(frozen=True)
class Targets:
    """What the activities may point at on our side: local actors and notes that exist."""

    ai: str
    user: str  # a local human account's actor id
    instance: str
    notes: tuple[str, ...]  # ids of local notes
    base_url: str  # our server's base URL
    follows: tuple[str, ...] = ()  # ids of our follows of the peer's users


class ActivityFactory:
    """Builds one valid activity per call; deterministic in the ``rng`` it is given.

    ``tag`` makes every id unique to one request (so requests do not dedupe each other) and
    stable across runs of the same seed.
    """

    def __init__(self, remote: RemoteFediverse, targets: Targets) -> None:
        self.remote = remote
        self.t = targets

    def build(self, rng: random.Random, actor_name: str, tag: str) -> Json:
        """A valid activity by ``actor_name`` (a user of the stand-in peer)."""
        kind = rng.choice(ACTIVITY_TYPES)
        actor = self.remote.actor_uri(actor_name)
        act_id = f"{actor}/activities/{tag}"
        obj: Any
        extra: Json = {}
        if kind == "Follow":
            obj = rng.choice(
                [self.t.ai, self.t.user, self.t.instance, self.remote.actor_uri("bob")]
            )
        elif kind == "Undo":
            inner = rng.choice(["Follow", "Like", "Announce", "Block", "EmojiReact"])
            obj = {
                "id": f"{actor}/activities/{tag}-undone",
                "type": inner,
                "actor": actor,
                "object": rng.choice([self.t.ai, *self.t.notes]),
            }
            if rng.random() < 0.3:
                obj = obj["id"]
        elif kind in ("Accept", "Reject"):
            follow_id = rng.choice([*self.t.follows, f"{self.t.base_url}/follows/none"])
            obj = rng.choice(
                [
                    follow_id,
                    {"id": follow_id, "type": "Follow", "actor": self.t.user, "object": actor},
                ]
            )
        elif kind in ("Create", "Update"):
            obj = self.note(rng, actor_name, tag)
            if kind == "Update" and rng.random() < 0.3:
                obj = self.remote.actor_document(actor_name)
                for name in rng.sample(ACTOR_FIELDS, rng.randrange(1, 4)):
                    obj[name] = hostile_value(rng)
            elif rng.random() < 0.1:
                obj = obj["id"]  # by reference: the worker fetches it
        elif kind == "Delete":
            obj = rng.choice(
                [
                    f"{actor}/statuses/{tag}",
                    {"id": f"{actor}/statuses/{tag}", "type": "Tombstone"},
                    actor,
                    *self.t.notes,
                ]
            )
        elif kind == "Announce":
            served = self.note(rng, actor_name, f"{tag}-boosted")
            obj = rng.choice([served["id"], served, *self.t.notes])
            extra = {"to": [PUBLIC], "cc": [self.remote.followers(actor_name)]}
        elif kind in ("Like", "EmojiReact"):
            obj = rng.choice([*self.t.notes, f"{actor}/statuses/{tag}"])
            if kind == "EmojiReact" or rng.random() < 0.3:
                extra = self.emoji(rng, actor)
        elif kind == "Block":
            obj = rng.choice([self.t.ai, self.t.user])
        elif kind == "Flag":
            obj = rng.sample([self.t.ai, self.t.user, *self.t.notes], 2)
            extra = {"content": rng.choice(["spam", *HOSTILE_TEXT])}
        elif kind == "Move":
            obj = actor
            extra = {"target": self.remote.actor_uri(rng.choice(["alice", "bob", actor_name]))}
        else:
            kind = rng.choice(UNKNOWN_TYPES)
            obj = rng.choice([self.t.ai, {"type": "Thing", "id": f"{actor}/things/{tag}"}])
        return self.remote.activity(actor_name, kind, obj, activity_id=act_id, **extra)

    def note(self, rng: random.Random, actor_name: str, tag: str) -> Json:
        """A note (or another object type), served by the peer at its id."""
        actor = self.remote.actor_uri(actor_name)
        mention = rng.choice([self.t.ai, self.t.user])
        name = "ai" if mention == self.t.ai else "carol"
        tags: list[Json] = [{"type": "Mention", "href": mention, "name": f"@{name}"}]
        if rng.random() < 0.3:
            tags.append({"type": "Hashtag", "name": rng.choice(["#nobot", "#noai", "#art"])})
        if rng.random() < 0.2:
            tags.append(self.emoji(rng, actor)["tag"][0])
        extra: Json = {}
        if rng.random() < 0.3:
            extra["inReplyTo"] = rng.choice([*self.t.notes, f"{actor}/statuses/{tag}-parent"])
        if rng.random() < 0.2:
            extra["summary"] = "cw"
            extra["sensitive"] = True
        object_type = rng.choice(OBJECT_TYPES) if rng.random() < 0.3 else "Note"
        if object_type == "Question":
            extra["oneOf"] = [{"type": "Note", "name": "yes"}, {"type": "Note", "name": "no"}]
        text = rng.choice(["hello", "draw a cat", "what is 2+2?", *HOSTILE_TEXT])
        note = self.remote.note(
            actor_name,
            f'<p><a href="{mention}">@{name}</a> {text}</p>',
            note_id=f"{actor}/statuses/{tag}",
            to=rng.choice([[PUBLIC], [mention], [self.remote.followers(actor_name)]]),
            tag=tags,
            attachment=self.attachments(rng, tag),
            type=object_type,
            **extra,
        )
        return note

    def attachments(self, rng: random.Random, tag: str) -> list[Json]:
        """Media on the peer (queued as ``cache_media`` jobs) or at places nothing serves."""
        found = []
        for index in range(rng.choice([0, 0, 1, 2, 4])):
            media = rng.choice([*self.remote.files, "/media/missing.png"])
            url = (
                hostile_url(rng, self.remote.base_url)
                if rng.random() < 0.2
                else f"{self.remote.base_url}{media}"
            )
            found.append(
                {
                    "type": rng.choice(["Document", "Image", "Video", "Audio", "Link"]),
                    "mediaType": rng.choice(["image/png", "image/jpeg", "video/mp4", "text/html"]),
                    "url": url,
                    "name": f"media {tag}/{index}",
                    "blurhash": rng.choice(["LEHV6nWB2yk8pyo0adR*.7kCMdnj", "###", "\ud800"]),
                    "width": rng.choice([100, 0, -1, 10**9]),
                    "height": rng.choice([100, 0, 10**9]),
                }
            )
        return found

    def emoji(self, rng: random.Random, actor: str) -> Json:
        """The content and tag of an emoji reaction (unicode or a custom emoji)."""
        media = rng.choice(list(self.remote.files) or ["/none.png"])
        icon: Any = {"type": "Image", "url": f"{self.remote.base_url}{media}"}
        if rng.random() < 0.5:  # a type to refuse before fetching, or none, or nonsense
            icon["mediaType"] = rng.choice(["image/png", "image/svg+xml", "IMAGE/GIF", 7, None])
        if rng.random() < 0.1:
            icon = rng.choice([[icon, "x"], icon["url"], None, "javascript:alert(1)"])
        return {
            "content": rng.choice(["\U0001f44d", ":blob:", "", "\u200d", "too long" * 20]),
            "tag": [
                {
                    "id": f"{actor}/emojis/blob",
                    "type": "Emoji",
                    "name": rng.choice(
                        [":blob:", ":blob:", ':x" onerror="alert(1):', ":" + "a" * 80 + ":", 42]
                    ),
                    "icon": icon,
                    "updated": rng.choice(
                        ["2025-01-01T00:00:00Z", "0001-01-01T00:00:00+12:00", "yesterday", 10**30]
                    ),
                }
            ],
        }
