"""Changes to our users' own posts after publishing: edits and deletions, stored, then sent."""

from __future__ import annotations

import asyncio
import sqlite3
from dataclasses import dataclass
from typing import Literal

from .. import as2_out, custom_emoji
from ..content import find_hashtags, find_mentions, render_note_html
from ..errors import BadRequest, Forbidden, NotFound
from ..models import Account, NewPoll, Note
from ..state import State
from ..storage import api_media, embeddings, media, mod_assist, notes, polls
from ..storage.notes import NoteRow
from ..vocab import format_time
from . import delivery, feedback, publish


async def _own_note(state: State, account: Account, uri: str) -> Note:
    note = await notes.by_uri(state.db, uri)
    if note is None:
        raise NotFound("no such post")
    if note.actor_id != account.actor.id:
        raise Forbidden("you can only change your own posts")
    return note


@dataclass(frozen=True)
class MediaChange:
    """New alt text and/or focal point of one attachment (None: unchanged)."""

    media_id: int
    description: str | None
    focus: tuple[float, float] | None


@dataclass(frozen=True)
class EditFields:
    """What an edit may change beside the text (the client API's ``PUT``); the web form's
    edit keeps them. ``media_ids``: the note's attachments to keep, or uploads of the
    author's to add, in order; attachments not named are deleted. ``media_changes``: alt
    text and focus of those. ``poll``: the new poll, None to remove it, ``"keep"``."""

    summary: str | None
    sensitive: bool
    language: str | None
    media_ids: tuple[int, ...]
    media_changes: tuple[MediaChange, ...] = ()
    poll: NewPoll | Literal["keep"] | None = "keep"


async def edit_note(
    state: State, account: Account, uri: str, text: str, fields: EditFields | None = None
) -> Note:
    """Replace the text (and ``fields``) of the account's own post and send the ``Update``."""
    note = await _own_note(state, account, uri)
    text = text.strip()
    current = await media.for_note(state.db, note.id)
    if fields is None:
        fields = EditFields(
            note.summary, note.sensitive, note.language, tuple(m.id for m in current)
        )
    if len(fields.media_ids) > publish.MAX_ATTACHMENTS:
        raise BadRequest(f"at most {publish.MAX_ATTACHMENTS} images per post")
    if (not text and not fields.media_ids) or len(text) > publish.MAX_TEXT:
        raise BadRequest(f"an edit needs 1 to {publish.MAX_TEXT} characters")
    if any(c.media_id not in fields.media_ids for c in fields.media_changes):
        raise BadRequest("media_attributes name an attachment the post does not have")
    if isinstance(fields.poll, NewPoll):
        if fields.media_ids:
            raise BadRequest("a post has either a poll or images, not both")
        if problem := fields.poll.problem():
            raise BadRequest(problem)
    resolved = await publish.resolve_mentions(state, find_mentions(text))
    now = max(state.now(), (note.updated or note.published) + 0.001)
    hashtags = find_hashtags(text)
    keep_mentions = [t for t in note.tags if t.get("type") == "Mention"]
    row = NoteRow(
        uri=note.uri,
        actor_id=note.actor_id,
        local=True,
        content=render_note_html(text, mentions=resolved, tag_url=state.urls.tag) if text else "",
        source=text,
        summary=fields.summary,
        sensitive=bool(fields.summary) or fields.sensitive,
        language=fields.language,
        visibility=note.visibility,
        tags=keep_mentions
        + [
            {"type": "Hashtag", "href": state.urls.tag(h), "name": f"#{h.lower()}"}
            for h in hashtags
        ]
        + await custom_emoji.local_tags(state, text, note.summary),
        mentions=await notes.mentions_of(state.db, note.id),
        hashtags=hashtags,
        published=note.published,
        published_text=note.published_text,
        updated=now,
        updated_text=format_time(now),
    )
    dropped = [m for m in current if m.id not in fields.media_ids]
    assist = state.config.ai_moderation.assist

    def work(conn: sqlite3.Connection) -> None:
        notes.replace_content(conn, note.id, row)
        api_media.reattach(conn, note.id, fields.media_ids, dropped=[m.id for m in dropped])
        for c in fields.media_changes:
            api_media.describe_in(
                conn, note.id, c.media_id, description=c.description, focus=c.focus
            )
        if fields.poll != "keep":
            polls.replace_local_in(conn, note.id, fields.poll, now=now)
        embeddings.queue_in(conn, note.id, note.visibility, now=now, version=now)
        mod_assist.queue_score_in(
            conn, note.id, note.visibility, now=now, version=now, enabled=assist
        )

    try:
        await state.db.transaction(work)
    except LookupError:  # an upload that a concurrent post attached first
        raise BadRequest("a media attachment is already used by another post") from None
    await asyncio.to_thread(state.media.delete, [m.file_name for m in dropped if m.file_name])
    edited = await notes.by_id(state.db, note.id)
    assert edited is not None
    state.streams.publish("edit", edited)
    await feedback.queue_edit(state, edited)
    await publish.send_note_activity(state, account, edited, "Update")
    return edited


async def delete_note(state: State, account: Account, uri: str) -> None:
    """Delete the account's own post (its media files too) and send the ``Delete``."""
    note = await _own_note(state, account, uri)
    inboxes = await publish.recipients(state, note, account.actor)
    now = state.now()
    attached = await media.for_note(state.db, note.id)
    await asyncio.to_thread(state.media.delete, [m.file_name for m in attached if m.file_name])
    await notes.tombstone(state.db, note.uri, actor_uri=account.actor.uri, now=now)
    state.streams.publish("delete", note)
    activity = as2_out.activity(
        "Delete",
        activity_id=f"{note.uri}#delete",
        actor=account.actor.uri,
        obj=as2_out.tombstone(note.uri, deleted=now),
        to=note.to,
        cc=note.cc,
    )
    await delivery.enqueue(state, activity, sender_actor_id=account.actor.id, inboxes=inboxes)
