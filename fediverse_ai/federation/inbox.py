"""Processing of stored inbound activities (run by the worker, never in the request).

Every handler is idempotent and tolerant of order: an activity may arrive twice,
a Delete before its Create, an Update for a note we never saw.
"""

from __future__ import annotations

import logging
from typing import Any

from ..as2_in import NOTE_TYPES, IncomingActivity, parse_activity, parse_actor, parse_note
from ..errors import BadRequest, FetchError, RemoteGone
from ..models import Actor
from ..state import State
from ..storage import activities, actors, follows, notes, reactions, remote_files
from ..vocab import ACTOR_TYPES, id_of, ids_of, type_of
from . import (
    feedback,
    interactions,
    live,
    moves,
    polls,
    quote_requests,
    quotes,
    remote_notes,
    remote_totals,
    resolver,
    trigger,
)

log = logging.getLogger(__name__)
INBOX = "inbox"
GONE_STATUSES = (404, 410)


async def process(state: State, payload: dict[str, Any]) -> None:
    """Worker entry: process the stored activity named in the job payload."""
    raw = await activities.get_raw(state.db, str(payload["uri"]))
    if raw is None:
        return
    act = parse_activity(raw)
    try:
        actor = await resolver.fetch_actor(state, act.actor)
        if actor.uri != act.actor:
            # fetch_actor answers for the id it was given; this keeps every handler below from
            # acting for anyone but the signer, whatever a cache or a peer might answer.
            raise BadRequest("the activity's actor did not resolve to itself")
        # Stored before an admin suspended the sender: dropped as the inbox now refuses it.
        if actor.uri not in await state.suspended_actors():
            await dispatch(state, act, actor)
    except FetchError as exc:
        # Classified here, where we know the fetch was for this job: a gone actor or object
        # stays gone, so the job ends now (429, 5xx and network errors are retried).
        if exc.http_status in GONE_STATUSES:
            raise RemoteGone(f"fetch answered HTTP {exc.http_status}: {exc.message}") from exc
        raise
    await activities.mark_processed(state.db, act.id, now=state.now())


async def dispatch(state: State, act: IncomingActivity, actor: Actor) -> None:
    match act.type:
        case "Follow":
            await on_follow(state, act, actor)
        case "Undo":
            await on_undo(state, act, actor)
        case "Accept":
            await on_accept(state, act, actor)
        case "Reject":
            await on_reject(state, act, actor)
        case "Create":
            await on_create(state, act, actor)
        case "Update":
            await on_update(state, act, actor)
        case "Delete":
            await on_delete(state, act, actor)
        case "Announce":
            await on_announce(state, act, actor)
        case "Like" | "EmojiReact":
            await on_like(state, act, actor)
        case "Block":
            await on_block(state, act, actor)
        case "Move":
            await moves.on_move(state, act, actor)
        case "QuoteRequest":
            await quote_requests.on_quote_request(state, act, actor)
        case "Flag":
            await reactions.add_report(
                state.db,
                uri=act.id,
                reporter_uri=actor.uri,
                object_uris=ids_of(act.object),
                content=act.content or "",
                now=state.now(),
                summarise=state.config.ai_moderation.assist,
            )
        case _:
            log.debug("ignoring %s activity %s", act.type, act.id)
            return
    # A sender we now deal with: its own totals for its profile, once per refresh period at most.
    await remote_totals.queue(state, actor)


async def _local_target(state: State, uri: str | None) -> Actor | None:
    if not uri or not state.urls.is_local(uri):
        return None
    target = await actors.by_uri(state.db, uri)
    return target if target is not None and target.local else None


async def on_follow(state: State, act: IncomingActivity, actor: Actor) -> None:
    target = await _local_target(state, act.object_id)
    if target is None:
        return
    receipt = await activities.receipt(state.db, act.id)
    if await reactions.is_blocked_by(state.db, actor_id=target.id, target_id=actor.id):
        await interactions.send_reject(state, target, actor, act.raw, receipt=receipt)
        return
    account = await actors.account_by_actor_id(state.db, target.id)
    auto = account is not None and (account.role == "ai" or not target.manually_approves)
    now = state.now()
    follow = await follows.upsert(
        state.db,
        follower_id=actor.id,
        followee_id=target.id,
        uri=act.id,
        state="accepted" if auto else "pending",
        now=now,
    )
    live.followed(state, follow, at=now)
    if follow.state == "accepted":
        await interactions.send_accept(state, target, actor, act.raw, receipt=receipt)


async def on_undo(state: State, act: IncomingActivity, actor: Actor) -> None:
    inner = act.object if isinstance(act.object, dict) else None
    if inner is None and act.object_id:
        inner = await activities.get_raw(state.db, act.object_id)
    if inner is None:
        return
    if id_of(inner.get("actor")) != actor.uri:
        return  # one may only undo one's own activities
    inner_type = type_of(inner)
    inner_object = id_of(inner.get("object"))
    if inner_type == "Follow":
        target = await _local_target(state, inner_object)
        if target is not None:
            await follows.remove(state.db, actor.id, target.id)
    elif inner_type in ("Like", "EmojiReact"):
        note = await notes.by_uri(state.db, inner_object) if inner_object else None
        await reactions.remove_reaction(
            state.db, uri=id_of(inner), actor_id=actor.id, note_id=note.id if note else None
        )
    elif inner_type == "Announce":
        note = await notes.by_uri(state.db, inner_object) if inner_object else None
        streamed = await live.boost_of(state, note, actor.id) if note else None
        if (
            await reactions.remove_announce(
                state.db, uri=id_of(inner), actor_id=actor.id, note_id=note.id if note else None
            )
            and note is not None
        ):
            live.unboosted(state, note, streamed)
    elif inner_type == "Block":
        target = await _local_target(state, inner_object)
        if target is not None:
            await reactions.remove_block(state.db, actor_id=actor.id, target_id=target.id)


async def _our_follow_of(state: State, act: IncomingActivity, actor: Actor) -> int | None:
    """The follow of ``actor`` by one of ours that this Accept/Reject answers."""
    inner = act.object
    follow = await follows.by_uri(state.db, act.object_id) if act.object_id else None
    if follow is None and isinstance(inner, dict):
        follower = await _local_target(state, id_of(inner.get("actor")))
        if follower is not None:
            follow = await follows.get(state.db, follower.id, actor.id)
    if follow is None or follow.followee_id != actor.id:
        return None
    return follow.id


async def on_accept(state: State, act: IncomingActivity, actor: Actor) -> None:
    if await quote_requests.on_answer(state, act.object_id, actor, act.raw.get("result") or ""):
        return
    follow_id = await _our_follow_of(state, act, actor)
    if follow_id is not None:
        await follows.set_state(state.db, follow_id, "accepted")


async def on_reject(state: State, act: IncomingActivity, actor: Actor) -> None:
    if await quote_requests.on_answer(state, act.object_id, actor, None):
        return
    follow_id = await _our_follow_of(state, act, actor)
    if follow_id is not None:
        await state.db.execute("DELETE FROM follows WHERE id = ?", (follow_id,))


async def _note_of(state: State, act: IncomingActivity) -> Any:
    """The activity's note, inline or fetched from its origin by id."""
    if isinstance(act.object, dict) and act.object.get("attributedTo"):
        return parse_note(act.object)
    if act.object_id:
        return await resolver.fetch_note(state, act.object_id)
    raise BadRequest("activity has no object")


async def on_create(state: State, act: IncomingActivity, actor: Actor) -> None:
    if act.object_type is not None and act.object_type not in NOTE_TYPES:
        return
    if await polls.on_vote(state, act, actor):
        return  # a vote on our poll is counted, never stored as a post
    note = await _note_of(state, act)
    if note.attributed_to != actor.uri:
        return
    stored = await remote_notes.store(state, note, actor)
    if stored is None:
        # Known already: a redelivery, or this job running again after a crash between storing
        # the note and queueing what follows it (the AI's answer). Both queues dedupe, so asking
        # again is safe, and not asking would lose that answer for good.
        known = await notes.by_uri(state.db, note.uri)
        stored = known if known is not None and known.actor_id == actor.id else None
    if stored is not None:
        await quotes.queue_resolution(state, stored)
        await trigger.on_new_note(state, stored)


async def on_update(state: State, act: IncomingActivity, actor: Actor) -> None:
    if act.object_type in ACTOR_TYPES:
        if act.object_id == actor.uri and isinstance(act.object, dict):
            await resolver.store_actor(state, parse_actor(act.object))
        return
    if act.object_type is not None and act.object_type not in NOTE_TYPES:
        return
    note = await _note_of(state, act)
    if note.attributed_to == actor.uri and await remote_notes.apply_edit(state, note, actor):
        edited = await notes.by_uri(state.db, note.uri)
        if edited is not None:
            await quotes.queue_resolution(state, edited)
            await feedback.queue_edit(state, edited)


async def on_delete(state: State, act: IncomingActivity, actor: Actor) -> None:
    uri = act.object_id
    if uri is None:
        return
    if uri == actor.uri:
        await actors.delete_remote(state.db, actor.uri)
        return
    if await quotes.on_delete(state, uri, actor):
        return  # a QuoteAuthorization withdrawn, not a note
    existing = await notes.by_uri(state.db, uri)
    if existing is not None and existing.actor_id != actor.id:
        return
    await notes.tombstone(state.db, uri, actor_uri=actor.uri, now=state.now())
    if existing is not None:
        state.streams.publish("delete", existing)


async def on_announce(state: State, act: IncomingActivity, actor: Actor) -> None:
    if act.object_id is None:
        return
    note = await notes.by_uri(state.db, act.object_id)
    if note is None and not state.urls.is_local(act.object_id):
        try:
            incoming = await resolver.fetch_note(state, act.object_id)
            author = await resolver.fetch_actor(state, incoming.attributed_to)
            note = await remote_notes.store(state, incoming, author)
        except (FetchError, BadRequest) as exc:
            log.info("announced object %s not fetched: %s", act.object_id, exc.message)
            return
    if note is not None:
        added = await reactions.add_announce(
            state.db, uri=act.id, actor_id=actor.id, note_id=note.id, now=state.now()
        )
        await feedback.on_boost(state, note, actor.id)
        if added:
            await live.boosted(state, note, actor.id)


async def on_like(state: State, act: IncomingActivity, actor: Actor) -> None:
    if act.object_id is None:
        return
    note = await notes.by_uri(state.db, act.object_id)
    if note is None:
        return
    emoji = act.content or act.raw.get("_misskey_reaction")
    kind = "emoji" if act.type == "EmojiReact" or (isinstance(emoji, str) and emoji) else "like"
    text = str(emoji)[:66] if kind == "emoji" and emoji else ""
    # Misskey's custom reaction: ":blobcat:" (or ":blobcat@host:") with its Emoji tag.
    code = text.strip(":").partition("@")[0]
    custom = next((e for e in act.emojis if e.shortcode == code), None) if code else None
    now = state.now()
    added = await reactions.add_reaction(
        state.db,
        uri=act.id,
        kind=kind,
        emoji=text[:64],
        actor_id=actor.id,
        note_id=note.id,
        now=now,
        emoji_url=custom.url if custom else None,
    )
    # Also when it was stored already: a rerun after a crash between the two records it.
    await feedback.on_reaction(state, note, actor.id, kind=kind, emoji=text[:64])
    if added:
        live.liked(state, note, actor.id, at=now)
    if (
        added
        and custom is not None
        and await remote_files.want(state.db, [(custom.url, "emoji")], now=state.now())
    ):
        state.work_queued()


async def on_block(state: State, act: IncomingActivity, actor: Actor) -> None:
    target = await _local_target(state, act.object_id)
    if target is None:
        return
    await reactions.add_block(
        state.db, uri=act.id, actor_id=actor.id, target_id=target.id, now=state.now()
    )
    await follows.remove(state.db, target.id, actor.id)
    await follows.remove(state.db, actor.id, target.id)
