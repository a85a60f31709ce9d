"""Polls between servers: votes received on our polls, our users' votes on anyone's, and the
``Update{Question}`` that carries new results (debounced) and the close (at ``endTime``).

Every step is a durable job or happens inside the transaction that records the vote, so a
vote is never counted without its delivery being queued, and a job run twice sends the same
activity id (deliveries are deduplicated on it).
"""

from __future__ import annotations

import json
import logging
import math
import secrets
import sqlite3
from typing import Any

from .. import as2_out
from ..as2_in import IncomingActivity
from ..as2_poll import parse_vote, vote_note
from ..errors import BadRequest, FediverseError, Forbidden, NotFound
from ..models import Account, Actor, Note
from ..netguard import is_blocked_domain
from ..state import State
from ..storage import actors, jobs, notes, polls
from ..vocab import host_of
from . import delivery, live, publish

log = logging.getLogger(__name__)
CLOSE_JOB = polls.CLOSE_JOB
UPDATE_JOB = polls.UPDATE_JOB
#: A burst of votes within this window makes one Update (Mastodon waits three minutes).
UPDATE_DEBOUNCE_SECONDS = 60.0


async def on_vote(state: State, act: IncomingActivity, actor: Actor) -> bool:
    """A ``Create`` that is a vote on one of our polls: counted (once), never stored as a
    post. Returns False when the Create is not a vote, for the caller to take as a post."""
    vote = parse_vote(act.object)
    if vote is None or not state.urls.is_local(vote.question):
        return False
    note = await notes.by_uri(state.db, vote.question)
    poll = await polls.by_note(state.db, note.id) if note is not None and note.local else None
    if note is None or poll is None:
        return False
    titles = [title for title, _ in poll.options]
    if vote.attributed_to != actor.uri or vote.choice not in titles:
        log.info("vote %s on %s refused: not its signer's or no such option", vote.uri, note.uri)
        return True
    try:
        new = await polls.record_votes(
            state.db,
            note.id,
            voter_id=actor.id,
            positions=[titles.index(vote.choice)],
            uri=vote.uri,
            counted_here=True,
            all_at_once=False,
            now=state.now(),
        )
    except (BadRequest, Forbidden) as exc:
        log.info("vote %s on %s refused: %s", vote.uri, note.uri, exc.message)
        return True
    if new:
        await schedule_update(state, note.id)
    return True


async def schedule_update(state: State, note_id: int) -> None:
    """Queue the results' Update at the end of the current window: the dedupe key names the
    window, so every vote inside it joins the one job."""
    now = state.now()
    due = (math.floor(now / UPDATE_DEBOUNCE_SECONDS) + 1) * UPDATE_DEBOUNCE_SECONDS
    await jobs.enqueue(
        state.db,
        UPDATE_JOB,
        {"note_id": note_id, "window": int(due)},
        now=now,
        dedupe_key=f"poll-update:{note_id}:{int(due)}",
        run_after=due,
    )


async def vote(state: State, account: Account, note: Note, positions: list[int]) -> None:
    """Our user's vote from the web: recorded, and for a remote poll one ``Create{Note}`` per
    choice queued for the poll author's own inbox (nobody else's) in the same transaction."""
    if note.actor_id == account.actor.id:
        raise Forbidden("you cannot vote in your own poll")
    author = await actors.by_id(state.db, note.actor_id)
    if author is None:
        raise NotFound("no such poll")
    inbox = author.inbox or author.shared_inbox
    if not note.local:
        host = (host_of(inbox or "") or "").split(":")[0]
        if not inbox or is_blocked_domain(host, await state.blocked_domains()):
            raise Forbidden("votes cannot be sent to that server")
    poll = await polls.by_note(state.db, note.id)
    if poll is None:
        raise NotFound("that post has no poll")
    now = state.now()
    titles = [title for title, _ in poll.options]

    def queue(conn: sqlite3.Connection, new: list[int]) -> None:
        for position in new:
            vote_id = f"{account.actor.uri}#votes/{secrets.token_hex(8)}"
            obj = vote_note(
                vote_id=vote_id,
                voter=account.actor.uri,
                question=note.uri,
                author=author.uri,
                choice=titles[position],
            )
            activity = as2_out.activity(
                "Create",
                activity_id=f"{vote_id}/activity",
                actor=account.actor.uri,
                obj=obj,
                to=[author.uri],
            )
            body = json.dumps(activity, separators=(",", ":"))
            jobs.enqueue_in(
                conn,
                delivery.DELIVER,
                {"inbox": inbox, "actor_id": account.actor.id, "body": body},
                now=now,
                dedupe_key=f"deliver:{activity['id']}:{inbox}",
            )

    new = await polls.record_votes(
        state.db,
        note.id,
        voter_id=account.actor.id,
        positions=positions,
        uri=None,
        counted_here=note.local,
        all_at_once=True,
        now=now,
        then=None if note.local else queue,
    )
    if new and note.local:
        await schedule_update(state, note.id)
    elif new:
        state.work_queued(len(new))


async def send_update(state: State, payload: dict[str, Any]) -> None:
    """Job: the results of one of our polls, as ``Update{Question}`` to its audience."""
    await _distribute(state, int(payload["note_id"]), suffix=f"updates/{int(payload['window'])}")


async def close(state: State, payload: dict[str, Any]) -> None:
    """Job, at ``endTime``: the poll closes and its final results go out with ``closed``."""
    note_id = int(payload["note_id"])
    closed_at = await polls.close(state.db, note_id, now=state.now())
    if closed_at is None:
        return
    await _distribute(state, note_id, suffix="closed")
    note = await notes.by_id(state.db, note_id)
    if note is not None:
        voters = await polls.local_voter_ids(state.db, note_id)
        live.poll_closed(state, note, voters, at=closed_at)


async def _distribute(state: State, note_id: int, *, suffix: str) -> None:
    note = await notes.by_id(state.db, note_id)
    if note is None or not note.local or await polls.by_note(state.db, note_id) is None:
        return  # deleted since: nothing to tell anyone
    account = await actors.account_by_actor_id(state.db, note.actor_id)
    if account is None:
        return
    try:
        obj = await publish.note_json(state, note, account.actor)
    except FediverseError as exc:
        raise BadRequest(f"poll {note.uri} not serialised: {exc.message}") from exc
    activity = as2_out.activity(
        "Update",
        activity_id=f"{note.uri}#{suffix}",
        actor=account.actor.uri,
        obj=obj,
        to=note.to,
        cc=note.cc,
        published=state.now(),
    )
    inboxes = await publish.recipients(state, note, account.actor)
    inboxes += await polls.voter_inboxes(state.db, note_id)
    await delivery.enqueue(state, activity, sender_actor_id=account.actor.id, inboxes=inboxes)
