"""Changes to our users' own posts after publishing: edits and deletions, stored, then sent."""

from __future__ import annotations

import sqlite3

from .. import as2_out, custom_emoji
from ..content import find_hashtags, find_mentions, render_note_html
from ..errors import BadRequest, Forbidden, NotFound
from ..models import Account, Note
from ..state import State
from ..storage import embeddings, media, notes
from ..storage.notes import NoteRow
from ..vocab import format_time
from . import delivery, publish


async def _own_note(state: State, account: Account, uri: str) -> Note:
    note = await notes.by_uri(state.db, uri)
    if note is None:
        raise NotFound("no such post")
    if note.actor_id != account.actor.id:
        raise Forbidden("you can only change your own posts")
    return note


async def edit_note(state: State, account: Account, uri: str, text: str) -> Note:
    """Replace the text of the account's own post and send the ``Update``."""
    note = await _own_note(state, account, uri)
    text = text.strip()
    if not text or len(text) > publish.MAX_TEXT:
        raise BadRequest(f"an edit needs 1 to {publish.MAX_TEXT} characters")
    resolved = await publish.resolve_mentions(state, find_mentions(text))
    now = max(state.now(), (note.updated or note.published) + 0.001)
    hashtags = find_hashtags(text)
    keep_mentions = [t for t in note.tags if t.get("type") == "Mention"]
    row = NoteRow(
        uri=note.uri,
        actor_id=note.actor_id,
        local=True,
        content=render_note_html(text, mentions=resolved, tag_url=state.urls.tag),
        source=text,
        summary=note.summary,
        sensitive=note.sensitive,
        language=note.language,
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

    def work(conn: sqlite3.Connection) -> None:
        notes.replace_content(conn, note.id, row)
        embeddings.queue_in(conn, note.id, note.visibility, now=now, version=now)

    await state.db.transaction(work)
    edited = await notes.by_id(state.db, note.id)
    assert edited is not None
    await publish.send_note_activity(state, account, edited, "Update")
    return edited


async def delete_note(state: State, account: Account, uri: str) -> None:
    """Delete the account's own post (its media files too) and send the ``Delete``."""
    note = await _own_note(state, account, uri)
    inboxes = await publish.recipients(state, note, account.actor)
    now = state.now()
    for m in await media.for_note(state.db, note.id):
        if m.file_name:
            (state.config.storage.media_dir / m.file_name).unlink(missing_ok=True)
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
