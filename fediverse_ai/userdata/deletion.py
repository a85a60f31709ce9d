"""Deleting a local account: gone at once for everyone, told to every server, purged later.

:func:`delete_account` is what the owner's request does, in one transaction: the account can
no longer sign in, its posts are deleted and its actor answers 410 Gone; the same transaction
queues ``account_deleted``. That job (idempotent: its deliveries are deduplicated by inbox)
removes the account's files and queues the actor's ``Delete`` to every known inbox, signed by
the actor's key at send time, drops the account's follows, then queues the purge for
``accounts.deletion_grace_days`` later.
The purge waits while any of those deliveries is still being retried, since the key that signs
them goes with the account.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from pathlib import Path
from typing import Any

from .. import as2_out
from ..errors import BadRequest
from ..federation import delivery
from ..models import Account
from ..state import State
from ..storage import account_data, actors, jobs
from ..vocab import PUBLIC

log = logging.getLogger(__name__)

DELETED_JOB = "account_deleted"
PURGE_JOB = account_data.PURGE_JOB
# While the actor's Delete is still being retried, the purge looks again this much later.
PURGE_RECHECK_SECONDS = 3600.0


def delete_activity(state: State, actor_uri: str, *, deleted: float) -> dict[str, Any]:
    """The actor's ``Delete`` (Mastodon's shape: the object is the actor's id, to Public)."""
    return as2_out.activity(
        "Delete",
        activity_id=f"{actor_uri}#delete",
        actor=actor_uri,
        obj=actor_uri,
        to=[PUBLIC],
        published=deleted,
    )


async def delete_account(state: State, account: Account) -> bool:
    """Delete a user's account now; False when it was deleted already."""
    if account.role != "user":
        raise BadRequest("only a user's account can be deleted")
    now = state.now()
    actor = account.actor
    # Read before the rows go: the posts' files are removed once the deletion is committed,
    # and open streams (the client API's) are told the posts are gone, as for one deletion.
    files = await account_data.local_file_names(state.db, actor.id)
    posts = await account_data.own_notes(state.db, actor.id) if state.streams.listeners else []

    def work(conn: sqlite3.Connection) -> bool:
        if not account_data.mark_deleted(conn, actor.id, actor.uri, now=now):
            return False
        jobs.enqueue_in(
            conn, DELETED_JOB, {"actor_id": actor.id}, now=now, dedupe_key=f"deleted:{actor.id}"
        )
        return True

    done = await state.db.transaction(work)
    if done:
        await asyncio.to_thread(state.media.delete, list(files))
        for note in posts:
            state.streams.publish("delete", note)
        state.work_queued(1)
        log.info("account %s deleted; its Delete is queued", actor.uri)
    return done


async def on_deleted(state: State, payload: dict[str, Any]) -> None:
    """Job: remove the account's files, send the actor's Delete, schedule the purge."""
    actor_id = payload.get("actor_id")
    if not isinstance(actor_id, int) or isinstance(actor_id, bool):
        raise BadRequest("account_deleted: actor_id must be an integer")
    deleted = await account_data.deleted_at(state.db, actor_id)
    actor = await actors.by_id(state.db, actor_id)
    if deleted is None or actor is None:
        return  # purged already, or never deleted
    names = await account_data.local_file_names(state.db, actor_id)
    await asyncio.to_thread(state.media.delete, list(names))
    for token in await account_data.export_tokens(state.db, actor_id):
        export_path(state, token).unlink(missing_ok=True)
    inboxes = await account_data.known_inboxes(state.db, actor_id)
    activity = delete_activity(state, actor.uri, deleted=deleted)
    await delivery.enqueue(state, activity, sender_actor_id=actor_id, inboxes=inboxes)
    # Only now (the inboxes are read): a rerun of this job finds its deliveries queued.
    # Without its follows the account's home stops filling with posts nobody will read.
    await account_data.drop_follows(state.db, actor_id)
    grace = state.config.accounts.deletion_grace_days * 86_400
    await jobs.enqueue(
        state.db,
        PURGE_JOB,
        {"actor_id": actor_id},
        now=state.now(),
        dedupe_key=f"purge:{actor_id}",
        run_after=deleted + grace,
    )
    state.work_queued(1)


async def purge(state: State, payload: dict[str, Any]) -> None:
    """Job: remove what is left of a deleted account, once its Delete is delivered."""
    actor_id = payload.get("actor_id")
    if not isinstance(actor_id, int) or isinstance(actor_id, bool):
        raise BadRequest("purge_account: actor_id must be an integer")
    account = await actors.account_by_actor_id(state.db, actor_id)
    if account is None or await account_data.deleted_at(state.db, actor_id) is None:
        return
    now = state.now()
    if await account_data.pending_deliveries(state.db, actor_id):
        later = now + PURGE_RECHECK_SECONDS
        await jobs.enqueue(
            state.db,
            PURGE_JOB,
            {"actor_id": actor_id},
            now=now,
            dedupe_key=f"purge:{actor_id}:{later!r}",
            run_after=later,
        )
        return
    names = await account_data.local_file_names(state.db, actor_id)
    await asyncio.to_thread(state.media.delete, list(names))
    for token in await account_data.export_tokens(state.db, actor_id):
        export_path(state, token).unlink(missing_ok=True)
    await account_data.purge(state.db, actor_id)
    state.key_path(account.key_file).unlink(missing_ok=True)
    log.info("deleted account %s purged", account.actor.uri)


def export_path(state: State, token: str) -> Path:
    """Where an archive is kept: beside the database, never under the served media."""
    return state.config.storage.data_dir / "exports" / f"{token}.zip"
