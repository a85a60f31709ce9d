"""Mastodon's JSON entities (Account, Status, MediaAttachment, Relationship) built from our
records in a few bulk queries per page.

Shapes follow docs.joinmastodon.org/entities: ids are strings, times ISO 8601 in UTC with
milliseconds, ``content`` and ``note`` are sanitised HTML. Remote media are served from our
cache (``/cache/...``) once the cache holds them, else hotlinked with ``remote_url`` set, as
Mastodon does for media it has not fetched.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from .. import custom_emoji
from ..federation.profile_edit import plain_fields
from ..models import Actor, Media, Note
from ..sanitize import html_to_text, sanitize_html
from ..state import State
from ..storage import (
    actor_totals,
    actors,
    api_media,
    card_counts,
    client_api,
    follows,
    media,
    mutes,
    oauth,
    remote_files,
    saved,
)
from ..storage.client_api import Announce
from . import extras
from .times import iso, iso_day

PUBLIC_VIS = ("public", "unlisted")
#: Mastodon calls followers-only posts "private".
API_VISIBILITY = {"followers": "private"}
_MEDIA_TYPES = {"image": "image", "video": "video", "audio": "audio"}


def acct(actor: Actor) -> str:
    return actor.username if actor.local else f"{actor.username}@{actor.domain}"


class Builder:
    """Entities as seen by one viewer (an account id, or None for anonymous requests)."""

    def __init__(self, state: State, viewer: Actor | None) -> None:
        self.state = state
        self.viewer = viewer
        self.base = state.config.instance.base_url

    async def _cache(self, urls: Sequence[str | None]) -> dict[str, tuple[str, str]]:
        """Our copy of each cached remote URL: (the file, its thumbnail or the file)."""
        found = await remote_files.cached(self.state.db, [u for u in urls if u])
        return {
            url: (
                f"{self.base}/cache/{f.file_name}",
                f"{self.base}/cache/{f.thumb_name or f.file_name}",
            )
            for url, f in found.items()
            if f.file_name
        }

    def _image(self, url: str | None, actor: Actor, cached: dict[str, tuple[str, str]]) -> str:
        if not url:
            return f"{self.base}/static/missing.svg"
        if actor.local or url not in cached:
            return url
        return cached[url][0]

    async def emoji_entities(self, groups: Sequence[custom_emoji.EmojiPairs]) -> list[list[Any]]:
        """The CustomEmoji entities of each group of declared emoji: only those we can show
        from our host (a remote picture once cached), as Mastodon lists what it fetched."""
        served = await custom_emoji.sources(self.state, groups)
        return [
            [
                {
                    "shortcode": code,
                    "url": self.base + path,
                    "static_url": self.base + path,
                    "visible_in_picker": path.startswith(custom_emoji.LOCAL_PATH),
                }
                for code, path in custom_emoji.usable(group, served).items()
            ]
            for group in groups
        ]

    async def accounts(self, items: Sequence[Actor]) -> list[dict[str, Any]]:
        cached = await self._cache([u for a in items for u in (a.icon_url, a.image_url)])
        pairs = await custom_emoji.actor_pairs(self.state, items)
        emojis = await self.emoji_entities([pairs.get(a.id, ()) for a in items])
        return [await self._account(a, cached, e) for a, e in zip(items, emojis, strict=True)]

    async def account(self, actor: Actor) -> dict[str, Any]:
        return (await self.accounts([actor]))[0]

    async def _account(
        self, actor: Actor, cached: dict[str, tuple[str, str]], emojis: list[Any]
    ) -> dict[str, Any]:
        db = self.state.db
        avatar = self._image(actor.icon_url, actor, cached)
        header = self._image(actor.image_url, actor, cached)
        last = await client_api.last_status_at(db, actor.id)
        published = actor.published or await actors.first_seen(db, actor.id)
        shown = await actor_totals.counts(db, actor)
        return {
            "id": str(actor.id),
            "username": actor.username,
            "acct": acct(actor),
            "display_name": actor.display_name or "",
            "locked": actor.manually_approves,
            "bot": actor.is_bot,
            "discoverable": actor.discoverable,
            "indexable": actor.indexable,
            "group": actor.type == "Group",
            "noindex": not actor.indexable,
            "created_at": iso_day(published) or iso_day(self.state.now()),
            "note": sanitize_html(actor.summary or ""),
            "url": actor.url or actor.uri,
            "uri": actor.uri,
            "avatar": avatar,
            "avatar_static": avatar,
            "header": header,
            "header_static": header,
            "followers_count": shown.followers,
            "following_count": shown.following,
            "statuses_count": shown.statuses,
            "last_status_at": time.strftime("%Y-%m-%d", time.gmtime(last)) if last else None,
            "hide_collections": False,
            "moved": None,
            "emojis": emojis,
            "roles": [],
            "fields": [
                {"name": name, "value": sanitize_html(value), "verified_at": None}
                for name, value in actor.fields
            ],
        }

    async def credential_account(self, actor: Actor) -> dict[str, Any]:
        """verify_credentials: the account plus ``source``, what the settings form edits."""
        doc = await self.account(actor)
        pending = await follows.followers(self.state.db, actor.id, state="pending", limit=1000)
        # The texts as typed, as Mastodon's source: an app sends them back as they are.
        doc["source"] = {
            "note": html_to_text(actor.summary or ""),
            "fields": [
                {"name": n, "value": v, "verified_at": None} for n, v in plain_fields(actor)
            ],
            "privacy": "public",
            "sensitive": False,
            "language": None,
            "follow_requests_count": len(pending),
            "hide_collections": False,
            "discoverable": actor.discoverable,
            "indexable": actor.indexable,
        }
        return doc

    def attachment(
        self,
        m: Media,
        cached: dict[str, tuple[str, str]],
        focus: tuple[float, float] | None = None,
    ) -> dict[str, Any]:
        """A MediaAttachment; ``focus`` is the focal point an app set on its upload."""
        url, preview = (m.url, m.url) if m.local else cached.get(m.url, (m.url, m.url))
        kind = _MEDIA_TYPES.get(m.media_type.split("/")[0], "unknown")
        meta: dict[str, Any] = {}
        if m.width and m.height:
            size = {
                "width": m.width,
                "height": m.height,
                "size": f"{m.width}x{m.height}",
                "aspect": round(m.width / m.height, 6),
            }
            meta = {"original": size, "small": size}
        if focus is not None:
            meta["focus"] = {"x": focus[0], "y": focus[1]}
        return {
            "id": str(m.id),
            "type": kind,
            "url": url,
            "preview_url": preview,
            "remote_url": None if m.local else m.url,
            "preview_remote_url": None,
            "text_url": None,
            "meta": meta,
            "description": m.description or None,
            "blurhash": m.blurhash,
        }

    async def statuses(
        self, items: Sequence[Note], *, nested: bool = False
    ) -> list[dict[str, Any]]:
        """Status entities for ``items`` (the caller has checked that the viewer may see them);
        ``nested``: statuses inside a quote, whose own quotes are given by id only."""
        if not items:
            return []
        db = self.state.db
        ids = [n.id for n in items]
        authors = await actors.by_ids(db, [n.actor_id for n in items])
        attached = await media.for_notes(db, ids)
        counts = await card_counts.counts_for(db, ids)
        viewer_id = self.viewer.id if self.viewer else None
        flags = await card_counts.viewer_flags(db, viewer_id, ids) if viewer_id else {}
        marked, pinned = await saved.flags(db, viewer_id, ids) if viewer_id else (set(), set())
        poll_docs = await extras.polls_for(self.state, self.viewer, ids)
        render = None if nested else lambda found: self.statuses(found, nested=True)
        quote_docs = await extras.quotes_for(self.state, self.viewer, ids, render)
        mentions = await client_api.mentions_for(db, ids)
        mentioned = await client_api.actors_by_uris(db, [u for us in mentions.values() for u in us])
        parents = await client_api.parents_of(db, [n.in_reply_to_uri or "" for n in items])
        app_ids = await client_api.status_apps(db, ids)
        apps = await oauth.apps_by_ids(db, sorted(set(app_ids.values())))
        cached = await self._cache([m.url for ms in attached.values() for m in ms if not m.local])
        focus = await api_media.focus_of(
            db, [m.id for ms in attached.values() for m in ms if m.local]
        )
        emojis = dict(
            zip(
                ids,
                await self.emoji_entities([custom_emoji.note_pairs(n) for n in items]),
                strict=True,
            )
        )
        account_docs = {
            a.id: d
            for a, d in zip(
                authors.values(), await self.accounts(list(authors.values())), strict=True
            )
        }
        out = []
        for n in items:
            if n.actor_id not in account_docs:
                continue
            likes, boosts, replies = counts.get(n.id, (0, 0, 0))
            liked, boosted = flags.get(n.id, (False, False))
            parent = parents.get(n.in_reply_to_uri or "")
            app = apps.get(app_ids.get(n.id, -1))
            out.append(
                {
                    "id": str(n.id),
                    "uri": n.uri,
                    "url": n.url or n.uri,
                    "created_at": iso(n.published),
                    "edited_at": iso(n.updated),
                    "account": account_docs[n.actor_id],
                    "content": n.content,
                    "text": None,
                    "visibility": API_VISIBILITY.get(n.visibility, n.visibility),
                    # Mastodon marks the status: a peer's flag on one attachment covers it all.
                    "sensitive": n.sensitive or any(m.sensitive for m in attached.get(n.id, [])),
                    "spoiler_text": n.summary or "",
                    "language": n.language,
                    "in_reply_to_id": str(parent[0]) if parent else None,
                    "in_reply_to_account_id": str(parent[1]) if parent else None,
                    "reblog": None,
                    "media_attachments": [
                        self.attachment(m, cached, focus.get(m.id)) for m in attached.get(n.id, [])
                    ],
                    "mentions": [
                        {
                            "id": str(a.id),
                            "username": a.username,
                            "url": a.url or a.uri,
                            "acct": acct(a),
                        }
                        for u in mentions.get(n.id, [])
                        if (a := mentioned.get(u)) is not None
                    ],
                    "tags": [
                        {"name": str(t.get("name", "")).lstrip("#"), "url": str(t.get("href", ""))}
                        for t in n.tags
                        if t.get("type") == "Hashtag"
                    ],
                    "emojis": emojis[n.id],
                    "application": {"name": app.name, "website": app.website} if app else None,
                    "reblogs_count": boosts,
                    "favourites_count": likes,
                    "replies_count": replies,
                    "favourited": liked,
                    "reblogged": boosted,
                    "muted": False,
                    "bookmarked": n.id in marked,
                    "pinned": n.id in pinned,
                    "poll": poll_docs.get(n.id),
                    "quote": quote_docs.get(n.id),
                    "card": None,
                    "filtered": [],
                }
            )
        return out

    async def status(self, note: Note) -> dict[str, Any]:
        return (await self.statuses([note]))[0]

    async def reblog(self, announce: Announce, note: Note, booster: Actor) -> dict[str, Any]:
        """A reblog as Mastodon shows one: a status of the booster wrapping the original."""
        inner = await self.status(note)
        return {
            **inner,
            "id": str(announce.status_id),
            "uri": f"{note.uri}#reblog-{announce.id}",
            "url": None,
            "created_at": iso(announce.published),
            "account": await self.account(booster),
            "content": "",
            "spoiler_text": "",
            "media_attachments": [],
            "mentions": [],
            "tags": [],
            "in_reply_to_id": None,
            "in_reply_to_account_id": None,
            "application": None,
            "reblog": inner,
        }

    async def relationships(self, others: Sequence[Actor]) -> list[dict[str, Any]]:
        assert self.viewer is not None
        ids = [a.id for a in others]
        mine, theirs = await client_api.follow_states(self.state.db, self.viewer.id, ids)
        blocking, blocked_by = await client_api.blocks_between(self.state.db, self.viewer.id, ids)
        muted = await mutes.muting(self.state.db, self.viewer.id, ids, now=self.state.now())
        notified = await follows.notifying(self.state.db, follower_id=self.viewer.id)
        return [
            {
                "id": str(i),
                "following": mine.get(i) == "accepted",
                "showing_reblogs": mine.get(i) == "accepted",
                "notifying": i in notified,
                "languages": None,
                "followed_by": theirs.get(i) == "accepted",
                "blocking": i in blocking,
                "blocked_by": i in blocked_by,
                "muting": i in muted,
                "muting_notifications": muted.get(i, False),
                "requested": mine.get(i) == "pending",
                "requested_by": theirs.get(i) == "pending",
                "domain_blocking": False,
                "endorsed": False,
                "note": "",
            }
            for i in ids
        ]
