"""The publishing service: what a local actor does, stored first, then delivered.

Used by the CLI now, by the AI actor and the web later: one code path decides
addressing, tags and recipients for every local post.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import sqlite3
from typing import Any

from .. import as2_out, as2_poll, custom_emoji
from ..addressing import address
from ..content import (
    MentionRef,
    ResolvedMention,
    find_hashtags,
    find_mentions,
    inert_text,
    render_note_html,
    safe_username,
)
from ..errors import BadRequest, FediverseError, NotFound
from ..models import Account, Actor, Draft, Note
from ..state import State
from ..storage import actors, api_media, embeddings, follows, jobs, media, mod_assist, notes, polls
from ..storage.notes import NoteRow
from ..urls import new_status_id
from ..vocab import format_time
from . import delivery, quote_out, remote_notes, resolver, trigger

log = logging.getLogger(__name__)
MAX_ATTACHMENTS = 4
MAX_TEXT = 5000
# A post is stored before its deliveries are queued (their recipients are read once it is). A
# job queued in the post's own transaction queues them this much later, should the process die
# (or the queueing fail) in between; the publisher marks it done when it queued them itself.
FEDERATE = "federate"
FEDERATE_DELAY_SECONDS = 60.0


async def resolve_mentions(
    state: State,
    refs: list[MentionRef],
    *,
    known: list[Actor] = (),  # type: ignore[assignment]
) -> list[ResolvedMention]:
    """Resolve written mentions; actors already in hand (``known``) need no WebFinger."""
    out = []
    for ref in refs:
        handle = f"{ref.username}@{ref.domain or state.config.instance.domain}"
        actor = next(
            (
                a
                for a in known
                if a.username.lower() == ref.username.lower()
                and a.domain.split(":")[0] == (ref.domain or state.config.instance.host)
            ),
            None,
        )
        try:
            actor = actor or await resolver.resolve_handle(state, handle)
        except FediverseError as exc:
            log.info("mention %s not resolved: %s", handle, exc.message)
            continue
        out.append(
            ResolvedMention(
                ref=ref, actor_id=actor.uri, profile_url=actor.url or actor.uri, acct=actor.acct
            )
        )
    return out


async def ensure_note(state: State, uri: str) -> tuple[Note, Actor]:
    parent = await notes.by_uri(state.db, uri)
    if parent is None and state.urls.is_local(uri):
        # Ours or nothing: fetching it from ourselves would only meet the SSRF guard.
        raise NotFound("no such post on this server")
    if parent is None:
        incoming = await resolver.fetch_note(state, uri)
        author = await resolver.fetch_actor(state, incoming.attributed_to)
        await remote_notes.store(state, incoming, author)
        parent = await notes.by_uri(state.db, uri)
        if parent is None:
            raise NotFound("the post replied to is not available")
    author_ = await actors.by_id(state.db, parent.actor_id)
    assert author_ is not None
    return parent, author_


def _mention_tags(mentioned: list[Actor]) -> list[dict[str, Any]]:
    return [{"type": "Mention", "href": a.uri, "name": f"@{_handle(a)}"} for a in mentioned]


def _handle(actor: Actor) -> str:
    return actor.acct if actor.local else f"{safe_username(actor.username)}@{actor.domain}"


def _addressee(actor: Actor) -> ResolvedMention:
    """The h-card of someone an AI answer addresses, from their stored actor, not from text."""
    handle = _handle(actor)
    profile = actor.url if actor.url and actor.url.startswith(("https://", "http://")) else None
    return ResolvedMention(
        ref=MentionRef(handle.partition("@")[0], actor.domain),
        actor_id=actor.uri,
        profile_url=profile or actor.uri,
        acct=handle,
    )


async def _fixed_audience(state: State, author: Actor, audience: tuple[str, ...]) -> list[Actor]:
    """The stored actors an AI answer goes to; nobody is looked up on the network for it."""
    found = [await actors.by_uri(state.db, uri) for uri in dict.fromkeys(audience)]
    return [a for a in found if a is not None and a.uri != author.uri]


async def publish_note(
    state: State, account: Account, draft: Draft, *, status_id: str | None = None
) -> Note:
    """Store a new local note with its media, then queue its Create for every recipient.

    With a ``status_id`` chosen in advance, publishing is idempotent: when that note
    already exists, its deliveries are queued again (deduplicated) and it is returned.
    """
    text = draft.text.strip()
    if not text and not draft.attachments:
        raise BadRequest("a post needs text or an image")
    if len(text) > MAX_TEXT:
        raise BadRequest(f"a post is limited to {MAX_TEXT} characters")
    if len(draft.attachments) > MAX_ATTACHMENTS:
        raise BadRequest(f"at most {MAX_ATTACHMENTS} images per post")
    if draft.poll is not None and (problem := poll_problem(draft)):
        raise BadRequest(problem)
    author = account.actor
    now = state.now()
    status_id = status_id or new_status_id(now)
    uri = state.urls.note(author.username, status_id)
    existing = await notes.by_uri(state.db, uri)
    if existing is not None:
        await send_note_activity(state, account, existing, "Create")
        return existing
    mentioned: dict[str, Actor] = {}
    resolved: list[ResolvedMention] = []
    lead: list[ResolvedMention] = []
    links: frozenset[str] | None = None
    if draft.audience is not None:
        # An AI answer: the model wrote the text, so it decides nobody's notifications.
        text = inert_text(text, keep_urls=draft.link_urls)
        mentioned = {a.uri: a for a in await _fixed_audience(state, author, draft.audience)}
        lead = [_addressee(a) for a in mentioned.values()]
        links = draft.link_urls
    else:
        extras = [await resolver.resolve_handle(state, handle) for handle in draft.extra_mentions]
        resolved = await resolve_mentions(state, find_mentions(text), known=extras)
        for r in resolved:
            found = await actors.by_uri(state.db, r.actor_id)
            if found is not None and found.uri != author.uri:
                mentioned[found.uri] = found
        for extra in extras:
            mentioned.setdefault(extra.uri, extra)
    context = uri
    if draft.in_reply_to:
        parent, parent_author = await ensure_note(state, draft.in_reply_to)
        context = parent.context_uri or parent.uri
        if parent_author.uri != author.uri and draft.audience is None:
            mentioned.setdefault(parent_author.uri, parent_author)
    quote = await quote_out.prepare(state, author, draft.quote, uri) if draft.quote else None
    hashtags = find_hashtags(text)
    html = (
        render_note_html(
            text, mentions=resolved, tag_url=state.urls.tag, lead=lead, link_urls=links
        )
        if text
        else ""
    ) + (quote_out.fallback_html(quote) if quote else "")
    to, cc = address(
        draft.visibility, followers_url=author.followers_url or "", mentioned=list(mentioned)
    )
    tags = (
        _mention_tags(list(mentioned.values()))
        + [
            {"type": "Hashtag", "href": state.urls.tag(h), "name": f"#{h.lower()}"}
            for h in hashtags
        ]
        + await custom_emoji.local_tags(state, text, draft.summary)
    )
    row = NoteRow(
        uri=uri,
        actor_id=author.id,
        local=True,
        url=state.urls.note_html(author.username, status_id),
        content=html,
        source=text,
        summary=draft.summary or None,
        sensitive=bool(draft.summary) or draft.sensitive,
        language=draft.language,
        visibility=draft.visibility,
        in_reply_to_uri=draft.in_reply_to,
        context_uri=context,
        to=to,
        cc=cc,
        tags=tags,
        ai_generated=draft.ai_generated,
        mentions=list(mentioned),
        hashtags=hashtags,
        published=now,
        published_text=format_time(now),
    )
    files = await asyncio.to_thread(_write_media_files, state, draft)
    assist = state.config.ai_moderation.assist

    def work(conn: sqlite3.Connection) -> int:
        note_id = notes.insert(conn, row, now=now)
        assert note_id is not None
        for position, (att, file_name) in enumerate(zip(draft.attachments, files, strict=True)):
            if att.upload_id is not None:
                api_media.attach(conn, att.upload_id, note_id, position)
                continue
            media.insert_local(
                conn,
                att,
                note_id=note_id,
                actor_id=author.id,
                position=position,
                url=state.urls.media(file_name),
                file_name=file_name,
                now=now,
            )
        quote_out.record_in(conn, note_id, quote, now=now, policy=draft.quote_policy)
        if draft.poll is not None:
            polls.insert_local_in(conn, note_id, draft.poll, now=now)
        jobs.enqueue_in(
            conn,
            FEDERATE,
            {"uri": uri},
            now=now,
            dedupe_key=f"{FEDERATE}:{uri}",
            run_after=now + FEDERATE_DELAY_SECONDS,
        )
        embeddings.queue_in(conn, note_id, row.visibility, now=now, version=None)
        mod_assist.queue_score_in(
            conn, note_id, row.visibility, now=now, version=None, enabled=assist
        )
        return note_id

    try:
        note_id = await state.db.transaction(work)
    except LookupError:  # an upload that a concurrent post attached first
        raise BadRequest("a media attachment is already used by another post") from None
    note = await notes.by_id(state.db, note_id)
    assert note is not None
    await send_note_activity(state, account, note, "Create")
    await quote_out.send_request(state, account, quote, await note_json(state, note, author))
    await trigger.on_new_note(state, note)
    await jobs.finish_waiting(state.db, f"{FEDERATE}:{uri}", now=state.now())
    return note


async def federate(state: State, payload: dict[str, Any]) -> None:
    """Worker entry: queue the Create of a post whose publisher stopped before it had (see
    FEDERATE); the deliveries' dedupe keys drop any it had queued."""
    note = await notes.by_uri(state.db, str(payload["uri"]))
    account = await actors.account_by_actor_id(state.db, note.actor_id) if note else None
    if note is None or account is None:
        return  # deleted since
    await send_note_activity(state, account, note, "Create")
    await trigger.on_new_note(state, note)


def poll_problem(draft: Draft) -> str | None:
    """Why a post's poll cannot go out (Mastodon's rules: no poll beside media)."""
    assert draft.poll is not None
    if draft.attachments:
        return "a post has either a poll or images, not both"
    return draft.poll.problem()


def _write_media_files(state: State, draft: Draft) -> list[str]:
    """Media go to the store before the note exists: receivers fetch them as soon as they
    see it. Blocking (the store's calls): run in a thread."""
    names = []
    for att in draft.attachments:
        if att.file_name is not None:
            names.append(att.file_name)
            continue
        name = f"{secrets.token_hex(16)}.{att.extension}"
        state.media.put(name, att.data)
        names.append(name)
    return names


async def note_json(state: State, note: Note, author: Actor) -> dict[str, Any]:
    attached = await media.for_note(state.db, note.id)
    focus = await api_media.focus_of(state.db, [m.id for m in attached])
    doc = as2_out.note_object(
        note, author, attached, replies_url=f"{note.uri}/replies", focus=focus
    )
    if (poll := await polls.by_note(state.db, note.id)) is not None:
        doc |= as2_poll.question_fields(poll.as_state(), replies_of=note.uri)
    return doc | await quote_out.note_properties(state, note, author)


async def send_update(state: State, account: Account, note: Note) -> None:
    """Send the note as it now is (a stamp granted) to its audience, content unchanged."""
    await send_note_activity(state, account, note, "Update")


async def recipients(state: State, note: Note, author: Actor) -> list[str]:
    """The inboxes a note of ``author`` goes to: followers' (unless direct) and mentioned."""
    inboxes: list[str] = []
    if note.visibility != "direct":
        inboxes += await follows.follower_inboxes(state.db, author.id)
    for uri in await notes.mentions_of(state.db, note.id):
        actor = await actors.by_uri(state.db, uri)
        if actor is not None and not actor.local and actor.delivery_inbox:
            inboxes.append(
                actor.inbox if note.visibility == "direct" and actor.inbox else actor.delivery_inbox
            )
    return inboxes


async def send_note_activity(state: State, account: Account, note: Note, kind: str) -> None:
    """Queue ``kind`` (Create, Update) of the note for its recipients."""
    author = account.actor
    obj = await note_json(state, note, author)
    activity_id = f"{note.uri}/activity" if kind == "Create" else state.urls.activity()
    activity = as2_out.activity(
        kind,
        activity_id=activity_id,
        actor=author.uri,
        obj=obj,
        to=note.to,
        cc=note.cc,
        published=note.updated or note.published,
    )
    inboxes = await recipients(state, note, author)
    await delivery.enqueue(state, activity, sender_actor_id=author.id, inboxes=inboxes)
