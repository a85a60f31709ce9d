"""Account migration, as Mastodon does it: ``alsoKnownAs``, ``Move``, and follows as CSV.

A person moves by first naming the old account in the new one's ``alsoKnownAs`` (an alias),
then sending ``Move{object: old, target: new}`` from the old one. Each side checks the other:
a Move is acted on only when the target names the mover among its aliases, which only the
person holding the new account can set, so nobody can make our users follow an account by
claiming to be a move.
"""

from __future__ import annotations

import csv
import io
import logging

from .. import as2_out
from ..as2_in import IncomingActivity
from ..errors import BadRequest, FediverseError
from ..models import Account, Actor
from ..state import State
from ..storage import actors, follows
from ..vocab import PUBLIC
from . import delivery, interactions, resolver

log = logging.getLogger(__name__)

CSV_HEADER = ("Account address", "Show boosts", "Notify on new posts", "Languages")
MAX_ALIASES = 20


async def on_move(state: State, act: IncomingActivity, mover: Actor) -> None:
    """A remote account moved: our users who followed it follow the new one instead."""
    target_uri = act.target
    if act.object_id != mover.uri or not target_uri or target_uri == mover.uri:
        return  # one moves only oneself, somewhere else
    target = await resolver.fetch_actor(state, target_uri, refresh=True)
    if mover.uri not in target.also_known_as:
        raise BadRequest("the new account does not name the old one in alsoKnownAs")
    if target.moved_to:
        raise BadRequest("the new account has itself moved")
    await state.db.execute(
        "UPDATE actors SET moved_to = ? WHERE id = ? AND local = 0", (target.uri, mover.id)
    )
    moved = 0
    # Safe to run again (a retried job): following is an upsert, unfollowing forgets once.
    for follower in await follows.followers(state.db, mover.id, limit=100_000):
        account = (
            await actors.account_by_actor_id(state.db, follower.id) if follower.local else None
        )
        if account is None:
            continue
        if await follows.get(state.db, follower.id, target.id) is None:
            await interactions.follow(state, account, target)
        await interactions.unfollow(state, account, mover)
        moved += 1
    log.info(
        "%s moved to %s: %d local followers follow the new account", mover.uri, target.uri, moved
    )


async def set_aliases(state: State, account: Account, aliases: list[Actor]) -> Account:
    """Replace the account's ``alsoKnownAs`` and tell its followers (an Update of the actor)."""
    uris = list(dict.fromkeys(a.uri for a in aliases if a.uri != account.actor.uri))
    if len(uris) > MAX_ALIASES:
        raise BadRequest(f"at most {MAX_ALIASES} aliases")
    await actors.set_local_aliases(
        state.db,
        account.actor.id,
        also_known_as=uris,
        moved_to=account.actor.moved_to,
        now=state.now(),
    )
    return await _sent_update(state, account)


async def move(state: State, account: Account, target: Actor) -> Account:
    """Move ``account`` to ``target``: ``movedTo`` set, ``Move`` sent to every follower.

    The target must name us in its ``alsoKnownAs`` already (fetched fresh): receivers check
    it too, and without it the Move would be ignored everywhere.
    """
    if target.uri == account.actor.uri:
        raise BadRequest("an account cannot move to itself")
    fresh = (
        await resolver.fetch_actor(state, target.uri, refresh=True) if not target.local else target
    )
    if account.actor.uri not in fresh.also_known_as:
        raise BadRequest(
            f"first add {account.actor.uri} to the aliases (alsoKnownAs) of {fresh.acct}"
        )
    await actors.set_local_aliases(
        state.db,
        account.actor.id,
        also_known_as=account.actor.also_known_as,
        moved_to=fresh.uri,
        now=state.now(),
    )
    moved = await _sent_update(state, account)
    activity = as2_out.activity(
        "Move",
        activity_id=f"{account.actor.uri}#moves/{int(state.now())}",
        actor=account.actor.uri,
        obj=account.actor.uri,
        target=fresh.uri,
        to=[account.actor.followers_url or ""],
        cc=[PUBLIC],
    )
    inboxes = await follows.follower_inboxes(state.db, account.actor.id)
    await delivery.enqueue(state, activity, sender_actor_id=account.actor.id, inboxes=inboxes)
    return moved


async def _sent_update(state: State, account: Account) -> Account:
    refreshed = await actors.account_by_actor_id(state.db, account.actor.id)
    assert refreshed is not None
    await interactions.send_actor_update(state, refreshed)
    return refreshed


async def export_follows(state: State, account: Account) -> str:
    """The accounts ``account`` follows, as Mastodon's ``following_accounts.csv``."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    for followed in await follows.following(state.db, account.actor.id, limit=100_000):
        address = (
            f"{followed.username}@{state.config.instance.host}" if followed.local else followed.acct
        )
        writer.writerow((address, "true", "false", ""))
    return out.getvalue()


async def import_follows(state: State, account: Account, text: str) -> list[tuple[str, str]]:
    """Follow every address of a Mastodon follows CSV (with or without its header line);
    returns ``(address, outcome)`` per line. One bad line does not stop the others."""
    results: list[tuple[str, str]] = []
    for row in csv.reader(io.StringIO(text)):
        address = row[0].strip() if row else ""
        if not address or address == CSV_HEADER[0]:
            continue
        try:
            target = await resolver.resolve_handle(state, address)
            if target.uri == account.actor.uri:
                raise BadRequest("that is this account")
            if await follows.get(state.db, account.actor.id, target.id) is not None:
                results.append((address, "already followed"))
                continue
            await interactions.follow(state, account, target)
        except FediverseError as exc:
            results.append((address, f"not followed: {exc.message}"))
        else:
            results.append((address, "followed"))
    return results
