"""Moderation: a local user's report (with its ``Flag`` to the remote server, as Mastodon
forwards one), and an admin's suspend, silence, remove-post and resolve, for the web admin
page, the client API and the CLI alike.

A suspension keeps everything, so that it can be lifted: the posts are hidden by the timeline
queries (``storage.moderation``). A local account loses its sessions and tokens, sends nothing
more, and its actor is served with ``suspended: true`` and no profile (its posts and
collections answer 403), told to its followers' servers by an ``Update``, as Mastodon does; the
end of the suspension is told the same way. A remote account's activities are refused at the
inbox and its follows with local accounts end (``severing``). Silencing only keeps the
posts out of the public timelines and For-you; followers still see them.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..as2_out import flag
from ..errors import BadRequest, NotFound
from ..models import Account, Actor, Note
from ..state import State
from ..storage import actors, moderation, notes, reactions
from . import delivery, interactions, note_changes, severing

MAX_COMMENT = 1000  # Mastodon's limit on a report's comment
MAX_REPORTED_POSTS = 20


async def report(
    state: State,
    account: Account,
    target: Actor,
    posts: Sequence[Note],
    *,
    comment: str,
    forward: bool,
) -> reactions.Report:
    """Store a local user's report of ``target`` (and some of its posts); when ``forward`` and
    the account is remote, queue the ``Flag`` to its server, signed by the instance actor."""
    if target.id == account.actor.id:
        raise BadRequest("you cannot report yourself")
    if len(posts) > MAX_REPORTED_POSTS:
        raise BadRequest(f"a report names at most {MAX_REPORTED_POSTS} posts")
    if any(p.actor_id != target.id for p in posts):
        raise BadRequest("the reported posts must be the reported account's")
    comment = comment.strip()[:MAX_COMMENT]
    forward = forward and not target.local and bool(target.inbox or target.shared_inbox)
    flag_id = state.urls.activity()
    report_id = await reactions.add_local_report(
        state.db,
        uri=flag_id,
        reporter_id=account.actor.id,
        reporter_uri=account.actor.uri,
        target_uri=target.uri,
        object_uris=[p.uri for p in posts],
        content=comment,
        forwarded=forward,
        now=state.now(),
        summarise=state.config.ai_moderation.assist,
    )
    if forward:
        instance = await actors.account_by_role(state.db, "instance")
        inbox = target.inbox or target.shared_inbox
        if instance is not None and inbox:
            doc = flag(
                activity_id=flag_id,
                actor=instance.actor.uri,
                objects=[target.uri, *(p.uri for p in posts)],
                content=comment,
            )
            await delivery.enqueue(state, doc, sender_actor_id=instance.actor.id, inboxes=[inbox])
    found = await reactions.report_by_id(state.db, report_id)
    assert found is not None
    return found


async def _moderatable(state: State, target: Actor) -> None:
    account = await actors.account_by_actor_id(state.db, target.id)
    if account is not None and account.role != "user":
        raise BadRequest("the instance and AI actors cannot be suspended or silenced")


async def suspend(state: State, target: Actor) -> None:
    await _moderatable(state, target)
    if target.local:
        await moderation.set_suspended(state.db, target.id, at=state.now())
    else:
        await severing.suspend_remote(state, target.id)  # and the end of its follows
    state.forget_suspended_actors()  # another process (the CLI) is seen within seconds
    if target.local:
        await moderation.revoke_access(state.db, target.id, now=state.now())
        await _tell_peers(state, target)


async def unsuspend(state: State, target: Actor) -> None:
    await moderation.set_suspended(state.db, target.id, at=None)
    state.forget_suspended_actors()
    if target.local:
        await _tell_peers(state, target)


async def _tell_peers(state: State, target: Actor) -> None:
    """An ``Update`` of the actor, with ``suspended`` or without, to its followers' servers:
    Mastodon then suspends the account there too (or lifts it), as for its own users."""
    account = await actors.account_by_actor_id(state.db, target.id)
    if account is not None:
        await interactions.send_actor_update(state, account)


async def silence(state: State, target: Actor) -> None:
    await _moderatable(state, target)
    await moderation.set_silenced(state.db, target.id, at=state.now())


async def unsilence(state: State, target: Actor) -> None:
    await moderation.set_silenced(state.db, target.id, at=None)


ACCOUNT_ACTIONS = {
    "suspend": suspend,
    "unsuspend": unsuspend,
    "silence": silence,
    "unsilence": unsilence,
}


async def remove_post(state: State, note: Note) -> None:
    """A local post is deleted as its author would (the ``Delete`` goes out); a remote one is
    deleted here only, remembered as a tombstone so that a later copy is not stored again."""
    author = await actors.by_id(state.db, note.actor_id)
    if author is None:
        raise NotFound("no such post")
    if note.local:
        account = await actors.account_by_actor_id(state.db, author.id)
        if account is None:
            raise NotFound("no such post")
        await note_changes.delete_note(state, account, note.uri)
        return
    if await notes.tombstone(state.db, note.uri, actor_uri=author.uri, now=state.now()):
        state.streams.publish("delete", note)
