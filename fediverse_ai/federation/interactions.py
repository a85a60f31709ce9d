"""Interactions between actors: likes, boosts, follows and answers to follows.

Each records its effect locally first, then queues the activity for delivery.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

from .. import as2_out, custom_emoji
from ..errors import Forbidden, NotFollowable, NotFound
from ..models import Account, Actor, Note
from ..state import State
from ..storage import activities, follows, moderation, reactions
from . import delivery, feedback, live, publish


async def _target_note(state: State, uri: str) -> tuple[Note, Actor]:
    return await publish.ensure_note(state, uri)


async def like(state: State, account: Account, uri: str) -> None:
    note, author = await _target_note(state, uri)
    activity_id = state.urls.activity()
    now = state.now()
    added = await reactions.add_reaction(
        state.db,
        uri=activity_id,
        kind="like",
        emoji="",
        actor_id=account.actor.id,
        note_id=note.id,
        now=now,
    )
    if added:
        await feedback.on_reaction(state, note, account.actor.id, kind="like", emoji="")
    if added and author.local:
        live.liked(state, note, account.actor.id, at=now)
    if added and not author.local and author.inbox:
        activity = as2_out.activity(
            "Like", activity_id=activity_id, actor=account.actor.uri, obj=note.uri
        )
        await delivery.enqueue(
            state, activity, sender_actor_id=account.actor.id, inboxes=[author.inbox]
        )


async def unlike(state: State, account: Account, uri: str) -> None:
    note, author = await _target_note(state, uri)
    like_id = await reactions.reaction_uri(state.db, actor_id=account.actor.id, note_id=note.id)
    removed = await reactions.remove_reaction(
        state.db, uri=like_id, actor_id=account.actor.id, note_id=note.id
    )
    if removed and like_id and not author.local and author.inbox:
        inner = as2_out.activity("Like", activity_id=like_id, actor=account.actor.uri, obj=note.uri)
        undo = as2_out.activity(
            "Undo",
            activity_id=f"{like_id}/undo",
            actor=account.actor.uri,
            obj=as2_out.strip_context(inner),
        )
        await delivery.enqueue(
            state, undo, sender_actor_id=account.actor.id, inboxes=[author.inbox]
        )


async def _boost_activity(
    state: State, account: Account, note: Note, author: Actor, activity_id: str
) -> dict[str, Any]:
    to, cc = as2_out.announce_addressing(author.uri, account.actor.followers_url or "")
    return as2_out.activity(
        "Announce",
        activity_id=activity_id,
        actor=account.actor.uri,
        obj=note.uri,
        to=to,
        cc=cc,
        published=state.now(),
    )


async def boost(state: State, account: Account, uri: str) -> None:
    note, author = await _target_note(state, uri)
    if note.visibility not in ("public", "unlisted"):
        raise Forbidden("only public posts can be boosted")
    activity_id = state.urls.activity()
    added = await reactions.add_announce(
        state.db, uri=activity_id, actor_id=account.actor.id, note_id=note.id, now=state.now()
    )
    if not added:
        return
    await feedback.on_boost(state, note, account.actor.id)
    await live.boosted(state, note, account.actor.id)
    activity = await _boost_activity(state, account, note, author, activity_id)
    inboxes = await follows.follower_inboxes(state.db, account.actor.id)
    if not author.local and author.delivery_inbox:
        inboxes.append(author.delivery_inbox)
    await delivery.enqueue(state, activity, sender_actor_id=account.actor.id, inboxes=inboxes)


async def unboost(state: State, account: Account, uri: str) -> None:
    note, author = await _target_note(state, uri)
    boost_id = await reactions.announce_uri(state.db, actor_id=account.actor.id, note_id=note.id)
    streamed = await live.boost_of(state, note, account.actor.id)
    removed = await reactions.remove_announce(
        state.db, uri=boost_id, actor_id=account.actor.id, note_id=note.id
    )
    if removed:
        live.unboosted(state, note, streamed)
    if not removed or not boost_id:
        return
    inner = await _boost_activity(state, account, note, author, boost_id)
    undo = as2_out.activity(
        "Undo",
        activity_id=f"{boost_id}/undo",
        actor=account.actor.uri,
        obj=as2_out.strip_context(inner),
        to=inner["to"],
        cc=inner["cc"],
    )
    inboxes = await follows.follower_inboxes(state.db, account.actor.id)
    if not author.local and author.delivery_inbox:
        inboxes.append(author.delivery_inbox)
    await delivery.enqueue(state, undo, sender_actor_id=account.actor.id, inboxes=inboxes)


async def follow(state: State, account: Account, target: Actor) -> None:
    """Follow a remote actor: pending until their Accept arrives.

    An actor without an inbox is refused before anything is stored: a job for ``""`` would only
    fail, and a pending follow would wait for an Accept that cannot come."""
    if target.local:
        now = state.now()
        stored = await follows.upsert(
            state.db,
            follower_id=account.actor.id,
            followee_id=target.id,
            uri=None,
            state="pending" if target.manually_approves else "accepted",
            now=now,
        )
        live.followed(state, stored, at=now)
        return
    if not target.inbox:
        raise NotFollowable()
    activity_id = state.urls.activity()
    await follows.upsert(
        state.db,
        follower_id=account.actor.id,
        followee_id=target.id,
        uri=activity_id,
        state="pending",
        now=state.now(),
    )
    activity = as2_out.activity(
        "Follow", activity_id=activity_id, actor=account.actor.uri, obj=target.uri
    )
    await delivery.enqueue(
        state, activity, sender_actor_id=account.actor.id, inboxes=[target.inbox]
    )


async def unfollow(state: State, account: Account, target: Actor) -> None:
    existing = await follows.get(state.db, account.actor.id, target.id)
    if existing is None:
        return
    await follows.remove(state.db, account.actor.id, target.id)
    if target.local or not target.inbox:
        return
    follow_id = existing.uri or state.urls.activity()
    inner = as2_out.activity(
        "Follow", activity_id=follow_id, actor=account.actor.uri, obj=target.uri
    )
    undo = as2_out.activity(
        "Undo",
        activity_id=f"{follow_id}/undo",
        actor=account.actor.uri,
        obj=as2_out.strip_context(inner),
    )
    await delivery.enqueue(state, undo, sender_actor_id=account.actor.id, inboxes=[target.inbox])


async def _answer_follow(
    state: State,
    kind: str,
    local: Actor,
    follower: Actor,
    follow_raw: dict[str, Any],
    receipt: str | None,
) -> None:
    if follower.local or not follower.inbox:
        return
    # An answer to one receipt of a Follow has one id, however often its job runs (a crash
    # between queueing the answer and recording the job done runs it again): the delivery's
    # dedupe key then drops the second, and a peer would dedupe it by id anyway.
    token = hashlib.sha256(receipt.encode()).hexdigest()[:16] if receipt else secrets.token_hex(8)
    activity = as2_out.activity(
        kind,
        activity_id=f"{local.uri}#{kind.lower()}s/follows/{token}",
        actor=local.uri,
        obj=as2_out.strip_context(follow_raw),
        to=[follower.uri],
    )
    await delivery.enqueue(state, activity, sender_actor_id=local.id, inboxes=[follower.inbox])


async def answer_follow_request(
    state: State, account: Account, follower: Actor, *, approve: bool
) -> None:
    """Approve or refuse a pending follow of a local account that approves followers by hand."""
    pending = await follows.get(state.db, follower.id, account.actor.id)
    if pending is None:
        raise NotFound("no follow request from this account")
    raw = await activities.get_raw(state.db, pending.uri) if pending.uri else None
    if raw is None:
        raw = {"id": pending.uri, "type": "Follow", "actor": follower.uri, "obj": account.actor.uri}
        raw["object"] = raw.pop("obj")
    if approve:
        await follows.set_state(state.db, pending.id, "accepted")
        await send_accept(state, account.actor, follower, raw)
    else:
        await follows.remove(state.db, follower.id, account.actor.id)
        await send_reject(state, account.actor, follower, raw)


async def send_accept(
    state: State,
    local: Actor,
    follower: Actor,
    follow_raw: dict[str, Any],
    *,
    receipt: str | None = None,
) -> None:
    """Accept embeds the Follow as received: without it the follow stays 'requested'.

    ``receipt`` names the Follow's receipt being answered (:func:`activities.receipt`) and
    makes the Accept's id the same on every run of that answer; without it the id is new.
    """
    await _answer_follow(state, "Accept", local, follower, follow_raw, receipt)


async def send_reject(
    state: State,
    local: Actor,
    follower: Actor,
    follow_raw: dict[str, Any],
    *,
    receipt: str | None = None,
) -> None:
    """Reject a Follow; ``receipt`` as for :func:`send_accept`."""
    await _answer_follow(state, "Reject", local, follower, follow_raw, receipt)


async def send_actor_update(state: State, account: Account) -> None:
    """Peers cache actors for about a day; an Update makes profile changes show at once.

    Also how a suspension and its end are told: the actor then carries ``suspended``.
    """
    doc = as2_out.actor_document(
        account.actor, webfinger=f"{account.actor.username}@{state.config.instance.host}"
    )
    doc["tag"] = await custom_emoji.actor_tags(state, account.actor)
    suspended = await moderation.is_suspended(state.db, account.actor.id)
    if suspended:
        doc = as2_out.suspended_actor(doc)
    activity = as2_out.activity(
        "Update",
        activity_id=state.urls.activity(),
        actor=account.actor.uri,
        obj=as2_out.strip_context(doc),
        to=["https://www.w3.org/ns/activitystreams#Public"],
        cc=[account.actor.followers_url or ""],
    )
    inboxes = await follows.follower_inboxes(state.db, account.actor.id)
    await delivery.enqueue(
        state,
        activity,
        sender_actor_id=account.actor.id,
        inboxes=inboxes,
        while_suspended=suspended,
    )
