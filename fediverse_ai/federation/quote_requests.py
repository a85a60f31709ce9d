"""QuoteRequests both ways: answering those for our users' posts (a stamp or a Reject),
revoking a stamp, and the answers to the requests our users sent.

Run inside the inbox job of the activity, so each is durable and retried like any inbox
work; a repeated request gets the same stamp and answers with the same activity ids.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any

from .. import as2_out
from ..as2_in import IncomingActivity, parse_note
from ..as2_quote import parse_quote_request
from ..errors import BadRequest, FediverseError
from ..models import Account, Actor, Note
from ..state import State
from ..storage import actors, notes
from ..storage import quotes as store
from ..storage.quotes import Stamp
from ..vocab import id_of, same_origin
from . import delivery, publish
from .quote_out import allows, give_stamp
from .quotes import stamp_url, verify_remote_stamp

log = logging.getLogger(__name__)


async def on_quote_request(state: State, act: IncomingActivity, actor: Actor) -> None:
    """``actor`` asks to quote one of our posts: Accept with a stamp, or Reject, by policy."""
    try:
        req = parse_quote_request(act.raw)
    except BadRequest as exc:
        log.info("QuoteRequest %s ignored: %s", act.id, exc.message)
        return
    if req.actor != actor.uri:
        return
    quoted = await notes.by_uri(state.db, req.quoted)
    owner = await actors.account_by_actor_id(state.db, quoted.actor_id) if quoted else None
    if quoted is None or owner is None or not quoted.local:
        return  # not a post of ours: nothing to answer for
    allowed = same_origin(req.quoting, actor.uri) and _inline_is_theirs(req.quoting_inline, actor)
    stamp = None
    if allowed and await allows(state, quoted, owner.actor, actor):
        stamp = await give_stamp(state, quoted, req.quoting, actor)
    # One answer per request, whatever redelivery does (the delivery is deduplicated by id).
    digest = hashlib.sha256(req.id.encode()).hexdigest()[:32]
    answer = as2_out.activity(
        "Reject" if stamp is None else "Accept",
        activity_id=f"{state.config.instance.base_url}/activities/quote-answer-{digest}",
        actor=owner.actor.uri,
        obj=as2_out.strip_context(act.raw),
        to=[actor.uri],
    )
    if stamp is not None:
        answer["result"] = stamp
    inbox = actor.inbox or actor.delivery_inbox
    if inbox:
        await delivery.enqueue(state, answer, sender_actor_id=owner.actor.id, inboxes=[inbox])


def _inline_is_theirs(inline: dict[str, Any] | None, actor: Actor) -> bool:
    """An inline quoting note must be the requester's own (the id alone is checked by origin)."""
    if inline is None or set(inline) <= {"id", "type"}:
        return True
    try:
        return parse_note(inline).attributed_to == actor.uri
    except BadRequest:
        return False


async def revoke(state: State, account: Account, stamp: Stamp) -> bool:
    """The author withdraws a stamp: a Delete of it goes to the quoter, and quotes of it here
    are marked revoked; False when it was already revoked (nothing is sent twice)."""
    quoted = await notes.by_id(state.db, stamp.quoted_note_id)
    if quoted is None or quoted.actor_id != account.actor.id:
        return False
    if not await store.revoke_stamp(state.db, stamp.id, now=state.now()):
        return False
    url = stamp_url(state, stamp.token)
    for quote in await store.by_authorization(state.db, url):
        await store.set_state(state.db, quote.note_id, "revoked", now=state.now())
    quoter = await actors.by_uri(state.db, stamp.quoter_uri)
    activity = as2_out.activity(
        "Delete",
        activity_id=f"{url}/delete",
        actor=account.actor.uri,
        obj={"id": url, "type": "QuoteAuthorization"},
        to=[stamp.quoter_uri],
    )
    inboxes = [i for i in (quoter.inbox or quoter.delivery_inbox,) if i] if quoter else []
    await delivery.enqueue(state, activity, sender_actor_id=account.actor.id, inboxes=inboxes)
    return True


async def on_answer(state: State, request_id: str | None, actor: Actor, result: Any) -> bool:
    """An Accept (with its stamp as ``result``) or Reject (``result`` None) of a QuoteRequest
    one of our users sent; True when it answered one. Only the quoted author answers."""
    quote = await store.by_request(state.db, request_id) if request_id else None
    if quote is None:
        return False
    note = await notes.by_id(state.db, quote.note_id)
    quoted = await notes.by_uri(state.db, quote.quoted_uri)
    if note is None or quoted is None or quoted.actor_id != actor.id:
        return True
    if result is None:
        await store.set_state(state.db, note.id, "rejected", now=state.now())
        return True
    url = id_of(result)  # by id or inline, as Fedify and Mastodon send it
    if not url or not same_origin(url, quoted.uri):
        return True
    verdict = await verify_remote_stamp(state, url, quoting=note.uri, quoted=quoted, author=actor)
    if verdict == "accepted":
        await store.set_state(state.db, note.id, "accepted", now=state.now(), authorization_uri=url)
        await _announce_stamp(state, note)
    return True


async def _announce_stamp(state: State, note: Note) -> None:
    """Our note now carries ``quoteAuthorization``: its audience learns it by an Update."""
    account = await actors.account_by_actor_id(state.db, note.actor_id)
    if account is None:
        return
    try:
        await publish.send_update(state, account, note)
    except FediverseError as exc:
        log.warning("update of %s after its stamp not sent: %s", note.uri, exc.message)
