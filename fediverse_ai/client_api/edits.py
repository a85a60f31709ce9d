"""Editing a status: ``PUT /api/v1/statuses/:id``, and what apps read around an edit,
``/history`` (every version, oldest first) and ``/source`` (the typed text to edit).

An edit goes through the web UI's edit (``federation.note_changes.edit_note``): the new version
is stored, the one it replaces kept for the history, an ``Update`` sent to the post's audience
and a ``status.update`` streamed. Those who boosted the post get an ``update`` notification
(derived from the history). As in Mastodon 4: ``media_attributes[]`` change the alt text and
focal point of attachments; ``poll`` replaces the poll (other options or ``multiple``
reset its votes, the same ones keep them) and an edit without one removes it."""

from __future__ import annotations

from typing import Any, Literal

from quart import Blueprint, Response

from ..errors import BadRequest, NotFound
from ..federation import note_changes, publish
from ..federation.note_changes import MediaChange
from ..models import Account, NewPoll, Note
from ..state import State
from ..storage import media, polls, revisions
from ..web.common import StateHolder, json_response
from . import lookup, params
from .entities import Builder
from .errors import Invalid, RecordNotFound
from .media import MAX_MEDIA_IDS, attachments_for_status, parse_description, parse_focus
from .polls import new_poll
from .statuses import language_of
from .times import iso
from .tokens import optional, user, viewer_of


async def _own(state: State, account: Account, raw: str) -> Note:
    note, announce = await lookup.status(state, account.actor, raw)
    if announce is not None or note.actor_id != account.actor.id:
        raise RecordNotFound()
    return note


async def _media_ids(state: State, account: Account, note: Note, raw: list[str]) -> tuple[int, ...]:
    """The edit's ``media_ids``: the note's own attachments and unattached uploads of the
    author's, at most four, none twice (422 otherwise)."""
    if len(raw) > MAX_MEDIA_IDS:
        raise Invalid(f"Media attachments are limited to {MAX_MEDIA_IDS}")
    own = {m.id for m in await media.for_note(state.db, note.id)}
    ids = [params.object_id(r) for r in raw]
    fresh = [r for r, i in zip(raw, ids, strict=True) if i not in own]
    uploads = iter(await attachments_for_status(state, account, fresh))
    out = [i if i is not None and i in own else next(uploads).upload_id for i in ids]
    if len(set(out)) != len(out):
        raise Invalid("the same media attachment is named twice")
    return tuple(i for i in out if i is not None)


async def _media_changes(p: dict[str, Any], media_ids: tuple[int, ...]) -> list[MediaChange]:
    """``media_attributes[]``: ``id`` (one of the edit's attachments), ``description``,
    ``focus``; 422 for anything else, as Mastodon answers."""
    out = []
    for item in await params.hashes(p, "media_attributes", most=MAX_MEDIA_IDS):
        media_id = params.object_id(str(item.get("id", "")).strip())
        if media_id is None or media_id not in media_ids:
            raise Invalid("media_attributes name an attachment the status does not have")
        focus = item.get("focus")
        out.append(
            MediaChange(
                media_id,
                parse_description(item),
                parse_focus(focus if isinstance(focus, str) else None),
            )
        )
    return out


async def _edit(state: State, account: Account, note: Note, p: dict[str, Any]) -> Note:
    text = params.text(p, "status", limit=publish.MAX_TEXT * 4)
    if text is None:
        text = note.source or ""
    raw_media = params.strings(p, "media_ids")
    if "media_ids" in p:
        media_ids = await _media_ids(state, account, note, raw_media)
    else:
        media_ids = tuple(m.id for m in await media.for_note(state.db, note.id))
    changes = await _media_changes(p, media_ids)
    if not text.strip() and not media_ids:
        raise Invalid("Text can't be blank")
    poll = new_poll(p)
    if poll is None and await polls.by_note(state.db, note.id) is None:
        poll_edit: NewPoll | Literal["keep"] | None = "keep"  # nothing to remove
    else:
        poll_edit = poll
    summary = note.summary
    if "spoiler_text" in p:
        summary = (params.text(p, "spoiler_text", limit=2000) or "").strip()[:500] or None
    language = language_of(p) if "language" in p else note.language
    fields = note_changes.EditFields(
        summary=summary,
        sensitive=params.flag(p, "sensitive", default=note.sensitive and not note.summary),
        language=language,
        media_ids=media_ids,
        media_changes=tuple(changes),
        poll=poll_edit,
    )
    try:
        return await note_changes.edit_note(state, account, note.uri, text, fields)
    except (BadRequest, NotFound) as exc:
        raise Invalid(exc.message) from None


async def _history(state: State, build: Builder, note: Note) -> list[dict[str, Any]]:
    """Mastodon's StatusEdit list: the replaced versions, then the current one."""
    current = await build.status(note)
    out = []
    for r in await revisions.for_note(state.db, note.id):
        out.append(
            {
                "content": r.content,
                "spoiler_text": r.summary or "",
                "sensitive": r.sensitive or any(m.sensitive for m in r.media),
                "created_at": iso(r.created_at),
                "account": current["account"],
                "poll": None,
                "media_attachments": [build.attachment(m, {}) for m in r.media],
                "emojis": [],
            }
        )
    out.append(
        {
            "content": current["content"],
            "spoiler_text": current["spoiler_text"],
            "sensitive": current["sensitive"],
            "created_at": current["edited_at"] or current["created_at"],
            "account": current["account"],
            # StatusEdit's poll: the options' titles (earlier versions' polls are not kept)
            "poll": (
                {"options": [{"title": o["title"]} for o in current["poll"]["options"]]}
                if current.get("poll")
                else None
            ),
            "media_attachments": current["media_attachments"],
            "emojis": [],
        }
    )
    return out


def register(bp: Blueprint, holder: StateHolder) -> None:
    @bp.put("/api/v1/statuses/<status_id>")
    async def edit_status(status_id: str) -> Response:
        state = holder.state
        account, _ = await user(state, "write:statuses")
        note = await _own(state, account, status_id)
        edited = await _edit(state, account, note, await params.read())
        return json_response(await Builder(state, account.actor).status(edited))

    @bp.get("/api/v1/statuses/<status_id>/history")
    async def status_history(status_id: str) -> Response:
        state = holder.state
        viewer = viewer_of(await optional(state))
        note, _ = await lookup.status(state, viewer, status_id)
        return json_response(await _history(state, Builder(state, viewer), note))

    @bp.get("/api/v1/statuses/<status_id>/source")
    async def status_source(status_id: str) -> Response:
        state = holder.state
        account, _ = await user(state, "read:statuses")
        note = await _own(state, account, status_id)
        return json_response(
            {"id": str(note.id), "text": note.source or "", "spoiler_text": note.summary or ""}
        )
