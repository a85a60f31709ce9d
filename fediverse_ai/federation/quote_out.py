"""Our users' side of quotes: who may quote their posts, and the posts they quote.

Used by the publisher. Quoting a post of this server is decided at once by its policy (the
stamp is ours to give); quoting a remote post sends a ``QuoteRequest`` to its author, whose
answer comes back to the inbox (``quote_requests``).
"""

from __future__ import annotations

import html
import secrets
import sqlite3
from dataclasses import dataclass
from typing import Any

from .. import as2_quote
from ..as2_quote import QuotePolicy, QuoteRef
from ..errors import BadRequest, Forbidden
from ..models import Account, Actor, Note
from ..state import State
from ..storage import follows, reactions
from ..storage import quotes as store
from ..storage.quotes import QuoteState
from ..vocab import CONTEXT
from . import delivery
from .quotes import quoted_note, stamp_url

QUOTABLE = ("public", "unlisted")


@dataclass(frozen=True)
class PreparedQuote:
    """A quote checked before its note is stored."""

    quoted: Note
    quoted_author: Actor
    state: QuoteState
    authorization: str | None  # our own stamp, when the quoted post is ours to allow
    request_uri: str | None  # the QuoteRequest to send, when it is a remote post

    @property
    def ref(self) -> QuoteRef:
        return QuoteRef(self.quoted.uri, "fep044f", self.authorization)


def policy_for(note: Note, chosen: QuotePolicy | None) -> QuotePolicy:
    """A post never allows more than its visibility: a followers-only post is quoted by nobody."""
    if note.visibility not in QUOTABLE:
        return "nobody"
    policy = chosen or as2_quote.default_policy(note.visibility)
    return "followers" if note.visibility == "unlisted" and policy == "public" else policy


async def allows(state: State, quoted: Note, owner: Actor, quoter: Actor) -> bool:
    """Whether ``quoter`` is approved automatically by the quoted post's policy."""
    if quoter.id == owner.id:
        return True
    if await reactions.is_blocked_by(state.db, actor_id=owner.id, target_id=quoter.id):
        return False
    policy = policy_for(quoted, await store.policy_of(state.db, quoted.id))
    if policy == "public":
        return True
    if policy == "followers":
        follow = await follows.get(state.db, quoter.id, owner.id)
        return follow is not None and follow.state == "accepted"
    return False


async def give_stamp(state: State, quoted: Note, quoting_uri: str, quoter: Actor) -> str | None:
    """Our stamp's URL for this pair of posts; None when it was revoked."""
    stamp = await store.add_stamp(
        state.db,
        token=secrets.token_urlsafe(18),
        quoted_note_id=quoted.id,
        quoting_uri=quoting_uri,
        quoter_uri=quoter.uri,
        now=state.now(),
    )
    return None if stamp.revoked_at is not None else stamp_url(state, stamp.token)


async def prepare(state: State, author: Actor, quoted_uri: str, quoting_uri: str) -> PreparedQuote:
    """Check a quote one of our users writes; Forbidden when a post of ours does not allow it."""
    found = await quoted_note(state, quoted_uri)
    if found is None:
        raise BadRequest("the quoted post is not available")
    quoted, owner = found
    if quoted.visibility not in QUOTABLE:
        raise Forbidden("only public and unlisted posts can be quoted")
    if owner.id == author.id:
        return PreparedQuote(quoted, owner, "accepted", None, None)
    if quoted.local:
        if not await allows(state, quoted, owner, author):
            raise Forbidden("the author does not allow you to quote this post")
        stamp = await give_stamp(state, quoted, quoting_uri, author)
        if stamp is None:
            raise Forbidden("the author revoked this quote")
        return PreparedQuote(quoted, owner, "accepted", stamp, None)
    return PreparedQuote(quoted, owner, "pending", None, f"{quoting_uri}#quote-request")


def record_in(
    conn: sqlite3.Connection,
    note_id: int,
    prepared: PreparedQuote | None,
    *,
    now: float,
    policy: str | None,
) -> None:
    """Store the note's quote and chosen policy with the note itself (one transaction)."""
    if policy in as2_quote.QUOTE_POLICIES:
        store.set_policy_in(conn, note_id, policy)
    if prepared is not None:
        store.record_in(
            conn,
            note_id,
            prepared.ref,
            now=now,
            state=prepared.state,
            request_uri=prepared.request_uri,
        )


def fallback_html(prepared: PreparedQuote) -> str:
    """The "RE:" line Mastodon 4.5 puts in a quote's content for servers without quotes;
    Mastodon hides it (class ``quote-inline``) where the quote is shown."""
    url = html.escape(prepared.quoted.url or prepared.quoted.uri)
    return f'<p class="quote-inline">RE: <a href="{url}">{url}</a></p>'


async def send_request(
    state: State, account: Account, prepared: PreparedQuote | None, note_doc: dict[str, Any]
) -> None:
    """Ask the remote quoted author for a stamp (a delivery job, deduplicated by its id)."""
    if prepared is None or prepared.request_uri is None:
        return
    inbox = prepared.quoted_author.inbox or prepared.quoted_author.delivery_inbox
    if not inbox:
        return
    request = as2_quote.quote_request(
        prepared.request_uri,
        actor=account.actor.uri,
        quoted=prepared.quoted.uri,
        quoting=note_doc,
    )
    activity = {"@context": CONTEXT, **request}
    activity["to"] = [prepared.quoted_author.uri]
    await delivery.enqueue(state, activity, sender_actor_id=account.actor.id, inboxes=[inbox])


async def note_properties(state: State, note: Note, author: Actor) -> dict[str, Any]:
    """What our note's AS2 carries for quotes: its ``interactionPolicy`` and, when it quotes,
    ``quote`` (and the older names) with the stamp once granted."""
    policy = policy_for(note, await store.policy_of(state.db, note.id))
    doc: dict[str, Any] = {
        "interactionPolicy": as2_quote.interaction_policy(
            policy, author=author.uri, followers_url=author.followers_url or ""
        )
    }
    quote = await store.of_note(state.db, note.id)
    if quote is not None:
        # Refused or revoked, the quote stays what the author wrote, without a stamp.
        live = quote.state == "accepted"
        auth = quote.authorization_uri if live else None
        doc.update(as2_quote.quote_properties(quote.quoted_uri, auth))
    return doc
