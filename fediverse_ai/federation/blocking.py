"""A local user blocks or unblocks an account (the client API's block/unblock).

The block is the ``blocks`` row that incoming Blocks use too, so the inbox already refuses a
blocked account's follows; follows both ways end, as in Mastodon. A remote account is sent
the ``Block`` (Mastodon's servers then hide our user's posts from it) and later its ``Undo``.
"""

from __future__ import annotations

from ..as2_out import activity
from ..models import Account, Actor
from ..state import State
from ..storage import follows, mutes, reactions
from . import delivery


async def block(state: State, account: Account, target: Actor) -> None:
    me = account.actor
    if await reactions.is_blocked_by(state.db, actor_id=me.id, target_id=target.id):
        return
    block_id = state.urls.activity()
    await reactions.add_block(
        state.db, uri=block_id, actor_id=me.id, target_id=target.id, now=state.now()
    )
    await follows.remove(state.db, me.id, target.id)
    await follows.remove(state.db, target.id, me.id)
    if not target.local and target.inbox:
        doc = activity("Block", activity_id=block_id, actor=me.uri, obj=target.uri, to=[target.uri])
        await delivery.enqueue(state, doc, sender_actor_id=me.id, inboxes=[target.inbox])


async def unblock(state: State, account: Account, target: Actor) -> None:
    me = account.actor
    block_id = await mutes.block_uri(state.db, me.id, target.id)
    if not await reactions.is_blocked_by(state.db, actor_id=me.id, target_id=target.id):
        return
    await reactions.remove_block(state.db, actor_id=me.id, target_id=target.id)
    if not target.local and target.inbox and block_id:
        inner = {"id": block_id, "type": "Block", "actor": me.uri, "object": target.uri}
        doc = activity(
            "Undo", activity_id=state.urls.activity(), actor=me.uri, obj=inner, to=[target.uri]
        )
        await delivery.enqueue(state, doc, sender_actor_id=me.id, inboxes=[target.inbox])
