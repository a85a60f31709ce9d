"""Storing notes that arrive from other servers (sanitised, addressed, with attachments)."""

from __future__ import annotations

import sqlite3

from ..addressing import infer_visibility
from ..as2_in import IncomingNote
from ..errors import BadRequest
from ..models import Actor, Note
from ..sanitize import html_to_text, sanitize_html
from ..state import State
from ..storage import embeddings, media, mod_assist, notes, polls, quotes, remote_files
from ..storage.machine_alt import queue_for_note_in as queue_descriptions_in
from ..storage.notes import NoteRow
from ..vocab import format_time

_CACHED_KINDS = ("image/", "video/", "audio/")


def _row(note: IncomingNote, author: Actor, now: float) -> NoteRow:
    published = note.published or now
    # HTML in a summary is shown as text (Mastodon does the same); an Article's summary is its
    # excerpt, a lead above the body, and a content warning only when the author flagged it.
    summary = html_to_text(note.summary[:20_000])[:1000] if note.summary else None
    warning = bool(summary) and note.title is None
    return NoteRow(
        uri=note.uri,
        actor_id=author.id,
        local=False,
        url=note.url,
        content=sanitize_html(note.content),
        summary=summary or None,
        sensitive=note.sensitive or warning,
        language=note.language,
        visibility=infer_visibility(note.to, note.cc, followers_url=author.followers_url),
        in_reply_to_uri=note.in_reply_to,
        context_uri=note.context,
        to=note.to[:500],
        cc=note.cc[:500],
        tags=note.tags,
        ai_generated=note.ai_generated,
        mentions=note.mentions,
        hashtags=note.hashtags,
        published=published,
        published_text=format_time(published),
        updated=note.updated,
        updated_text=format_time(note.updated) if note.updated else None,
        title=note.title,
    )


def _check_author(note: IncomingNote, author: Actor) -> None:
    """Every caller resolves ``author`` from the note's ``attributedTo``; stored under anyone
    else, the note would speak for them (issue 17), so the last step checks it again."""
    if author.uri != note.attributed_to:
        raise BadRequest("the note's author is not the actor it is stored for")


async def store(state: State, note: IncomingNote, author: Actor) -> Note | None:
    """Insert a remote note unless known or deleted; returns the stored note when new."""
    _check_author(note, author)
    if await notes.is_tombstoned(state.db, note.uri):
        return None
    now = state.now()
    row = _row(note, author, now)
    assist = state.config.ai_moderation.assist

    def work(conn: sqlite3.Connection) -> int | None:
        note_id = notes.insert(conn, row, now=now)
        if note_id is not None:
            _insert_attachments(conn, note_id, note, author, now)
            polls.sync_remote_in(conn, note_id, note.poll, now=now)
            quotes.record_in(conn, note_id, note.quote, now=now)
            embeddings.queue_in(conn, note_id, row.visibility, now=now, version=None)
            mod_assist.queue_score_in(
                conn, note_id, row.visibility, now=now, version=None, enabled=assist
            )
        return note_id

    note_id = await state.db.transaction(work)
    if note_id and (note.attachments or note.emojis):
        state.work_queued(len(note.attachments) + len(note.emojis))  # their cache fetches
    return await notes.by_id(state.db, note_id) if note_id else None


async def apply_edit(state: State, note: IncomingNote, author: Actor) -> bool:
    """Replace a known note's content when the edit is newer; store it when unknown."""
    _check_author(note, author)
    existing = await notes.by_uri(state.db, note.uri)
    if existing is None:
        return await store(state, note, author) is not None
    if existing.actor_id != author.id:
        return False
    edited_at = note.updated or state.now()
    # AS2 times have second precision, so an edit made within the second of the last
    # version carries an equal time: only a strictly older edit is stale (as in Mastodon).
    if edited_at < (existing.updated or existing.published):
        return False
    now = state.now()
    row = _row(note, author, now)
    row = NoteRow(**{**row.__dict__, "updated": edited_at, "updated_text": format_time(edited_at)})
    assist = state.config.ai_moderation.assist

    def work(conn: sqlite3.Connection) -> None:
        notes.replace_content(conn, existing.id, row)
        media.delete_remote_for_note(conn, existing.id)
        _insert_attachments(conn, existing.id, note, author, now)
        polls.sync_remote_in(conn, existing.id, note.poll, now=now)
        quotes.record_in(conn, existing.id, note.quote, now=now)
        embeddings.queue_in(conn, existing.id, existing.visibility, now=now, version=edited_at)
        mod_assist.queue_score_in(
            conn, existing.id, existing.visibility, now=now, version=edited_at, enabled=assist
        )

    await state.db.transaction(work)
    edited = await notes.by_id(state.db, existing.id)
    if edited is not None:
        state.streams.publish("edit", edited)
    return True


def _insert_attachments(
    conn: sqlite3.Connection, note_id: int, note: IncomingNote, author: Actor, now: float
) -> None:
    wanted: list[tuple[str, str]] = []
    for position, att in enumerate(note.attachments[:8]):
        if not att.url.startswith(("https://", "http://")):
            continue
        if att.media_type.startswith(_CACHED_KINDS):  # other documents are only linked
            wanted.append((att.url, "attachment"))
        media.insert(
            conn,
            note_id=note_id,
            actor_id=author.id,
            local=False,
            position=position,
            url=att.url,
            media_type=att.media_type[:100],
            file_name=None,
            width=att.width,
            height=att.height,
            blurhash=att.blurhash[:100] if att.blurhash else None,
            description=att.description,
            ai_generated=note.ai_generated,
            now=now,
            sensitive=att.sensitive,
        )
    wanted += [(e.url, "emoji") for e in note.emojis]
    # Fetched later, by a job queued in this same transaction (media_cache).
    remote_files.want_in(conn, wanted, now=now)
    queue_descriptions_in(conn, note_id, now=now)  # of pictures cached already
    changed = [(e.url, e.updated) for e in note.emojis if e.updated is not None]
    remote_files.refresh_emoji_in(conn, changed, now=now)
