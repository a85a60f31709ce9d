"""Editing a local account's profile, whoever asks: the web's ``/settings/profile``, the AI
actor's form on ``/admin``, ``fediverse-ai user profile`` and the client API's
``update_credentials`` all come here, so that they check the same limits, render the bio the
same way (links, mentions and hashtags, as posts are), re-encode pictures through the same
pipeline, and send the same ``Update`` of the actor to its followers.
"""

from __future__ import annotations

import asyncio
import re
import secrets
from dataclasses import dataclass

from ..consent import requeue_if_allowed_again
from ..content import find_mentions, render_note_html
from ..errors import BadRequest, FediverseError
from ..media import ProcessedImage, make_thumbnail, process_image
from ..models import Account, Actor
from ..sanitize import LINK_REL, html_to_text
from ..state import State
from ..storage import actors, media, profiles
from . import interactions, publish

MAX_DISPLAY_NAME = 30
MAX_BIO = 500
MAX_FIELDS = 4
MAX_FIELD = 255
MAX_IMAGE_BYTES = 10 * 1024 * 1024  # as an image attached to a post
# Mastodon's sizes, which apps lay out for: a square avatar, a 3:1 header.
IMAGE_SIDES = {"avatar": 400, "header": 1500}
_LINK_REL = re.compile(f'rel="{LINK_REL}"')


class ProfileInvalid(BadRequest):
    """A change refused as a whole; nothing of it was stored."""


@dataclass(frozen=True)
class ProfileChange:
    """What to change; None leaves a part as it is. Texts are plain, as the user typed them."""

    display_name: str | None = None
    bio: str | None = None
    fields: tuple[tuple[str, str], ...] | None = None
    locked: bool | None = None
    bot: bool | None = None
    discoverable: bool | None = None
    indexable: bool | None = None
    avatar: bytes | None = None
    header: bytes | None = None


def check(change: ProfileChange) -> None:
    """Refuse a change over the limits, before anything is stored or decoded."""
    if change.display_name is not None and len(change.display_name.strip()) > MAX_DISPLAY_NAME:
        raise ProfileInvalid(f"the display name is limited to {MAX_DISPLAY_NAME} characters")
    if change.bio is not None and len(change.bio.strip()) > MAX_BIO:
        raise ProfileInvalid(f"the bio is limited to {MAX_BIO} characters")
    if change.fields is not None:
        if len(change.fields) > MAX_FIELDS:
            raise ProfileInvalid(f"at most {MAX_FIELDS} profile fields")
        for name, value in change.fields:
            if len(name.strip()) > MAX_FIELD or len(value.strip()) > MAX_FIELD:
                raise ProfileInvalid(f"a profile field is limited to {MAX_FIELD} characters")
    for kind, data in (("avatar", change.avatar), ("header", change.header)):
        if data is not None and (not data or len(data) > MAX_IMAGE_BYTES):
            raise ProfileInvalid(
                f"the {kind} must be an image of at most {MAX_IMAGE_BYTES // 2**20} MB"
            )


async def bio_html(state: State, text: str) -> str:
    """The bio as a post's text would be: links, hashtags and the mentions that resolve."""
    text = text.strip()
    if not text:
        return ""
    mentions = await publish.resolve_mentions(state, find_mentions(text))
    return render_note_html(text, mentions=mentions, tag_url=state.urls.tag)


def field_html(state: State, value: str) -> str:
    """A field's value with its links made (Mastodon links them too, ``rel="me"`` so that a
    page linking back verifies the link); no mentions, which would notify nobody here."""
    rendered = render_note_html(value.strip(), mentions=(), tag_url=state.urls.tag)
    inline = rendered.removeprefix("<p>").removesuffix("</p>").replace("</p><p>", " ")
    return _LINK_REL.sub(f'rel="me {LINK_REL}"', inline)


def with_rel_me(sanitized: str) -> str:
    """Put back the ``rel="me"`` the sanitizer takes off links; only for our own actors'
    fields, which we rendered: a remote post must not claim to be the page it is shown on."""
    return _LINK_REL.sub(f'rel="me {LINK_REL}"', sanitized)


def plain_fields(actor: Actor) -> list[tuple[str, str]]:
    """The fields as the user typed them, to fill a form with."""
    return [(html_to_text(name), html_to_text(value)) for name, value in actor.fields]


async def _decoded(kind: str, data: bytes | None) -> ProcessedImage | None:
    """An uploaded avatar or header re-encoded (EXIF dropped) and scaled, or None."""
    if data is None:
        return None
    try:
        return await asyncio.to_thread(
            lambda: make_thumbnail(process_image(data), IMAGE_SIDES[kind])
        )
    except FediverseError as exc:
        raise ProfileInvalid(f"{kind}: {exc.message}") from None


async def _stored(state: State, actor_id: int, image: ProcessedImage | None) -> str | None:
    """The URL of the picture once written to the media store and to ``media``."""
    if image is None:
        return None
    name = f"{secrets.token_hex(16)}.{image.extension}"
    await asyncio.to_thread(state.media.put, name, image.data)
    url = state.urls.media(name)
    await media.insert_profile_image(
        state.db,
        actor_id=actor_id,
        url=url,
        file_name=name,
        width=image.width,
        height=image.height,
        now=state.now(),
        media_type=image.media_type,
        blurhash=image.blurhash,
    )
    return url


async def apply(state: State, account: Account, change: ProfileChange) -> Account:
    """Store the change and send the ``Update``; returns the account as it is now."""
    check(change)
    me = account.actor
    # Both pictures are decoded before anything is written: a bad header keeps the old avatar.
    avatar_image = await _decoded("avatar", change.avatar)
    header_image = await _decoded("header", change.header)
    avatar = await _stored(state, me.id, avatar_image)
    header = await _stored(state, me.id, header_image)
    fields = me.fields
    if change.fields is not None:
        # Names are plain text (as in ActivityPub's PropertyValue), values HTML.
        fields = tuple(
            (n.strip(), field_html(state, v)) for n, v in change.fields if n.strip() or v.strip()
        )
    actor_type = me.type
    if change.bot is not None and change.bot != me.is_bot:
        actor_type = "Service" if change.bot else "Person"
    profile = profiles.Profile(
        display_name=me.display_name
        if change.display_name is None
        else change.display_name.strip(),
        summary=me.summary if change.bio is None else await bio_html(state, change.bio),
        manually_approves=me.manually_approves if change.locked is None else change.locked,
        actor_type=actor_type,
        discoverable=me.discoverable if change.discoverable is None else change.discoverable,
        indexable=me.indexable if change.indexable is None else change.indexable,
        fields=fields,
        icon_url=avatar or me.icon_url,
        image_url=header or me.image_url,
    )
    await profiles.save(state.db, me.id, profile, now=state.now())
    fresh = await actors.account_by_actor_id(state.db, me.id)
    assert fresh is not None
    await requeue_if_allowed_again(state, me, fresh.actor)
    await interactions.send_actor_update(state, fresh)
    return fresh
