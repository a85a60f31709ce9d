"""Quotes that reach us: the quoted post fetched and the quote verified (FEP-044f).

A quote is shown as accepted only when the quoted author's server vouches for it: the quoting
note's ``quoteAuthorization`` names a ``QuoteAuthorization`` on the quoted post's server, by
its author, for exactly this pair of posts (or the author quotes themselves, which Mastodon
accepts too). Resolution is a job of its own, queued by the inbox job of the quoting note,
and only for notes that arrive in an inbox: a quoted post's own quote is recorded but never
followed, so a chain or loop of quotes costs one fetch per delivered note.
"""

from __future__ import annotations

import logging
from typing import Any

from ..as2_quote import parse_stamp, stamp_problem
from ..errors import BadRequest, FetchError, UnsafeURL
from ..fetcher import fetch_ap_object
from ..models import Actor, Note
from ..state import State
from ..storage import actors, jobs, notes
from ..storage import quotes as store
from ..storage.quotes import Quote, QuoteState
from ..vocab import same_origin
from . import remote_notes, resolver

log = logging.getLogger(__name__)
QUOTE_RESOLVE = "quote_resolve"
ATTEMPTS = 8
_GONE = (404, 410)


async def queue_resolution(state: State, note: Note) -> bool:
    """Queue the check of ``note``'s quote; once per quoted post and stamp (an edit that
    changes either is checked again)."""
    if note.local:
        return False
    quote = await store.of_note(state.db, note.id)
    if quote is None:
        return False
    key = f"quote:{note.uri}:{quote.quoted_uri}:{quote.authorization_uri or ''}"
    queued = await jobs.enqueue(
        state.db, QUOTE_RESOLVE, {"note_uri": note.uri}, now=state.now(), dedupe_key=key
    )
    if queued:
        state.work_queued()
    return queued


async def resolve(state: State, payload: dict[str, Any]) -> None:
    """Job: fetch the quoted post (signed, SSRF-guarded) and decide the quote's state."""
    note = await notes.by_uri(state.db, str(payload.get("note_uri", "")))
    quote = await store.of_note(state.db, note.id) if note is not None else None
    if note is None or quote is None:
        return
    try:
        found = await quoted_note(state, quote.quoted_uri)
    except UnsafeURL as exc:
        log.info("quoted post %s refused: %s", quote.quoted_uri, exc.message)
        return
    except FetchError as exc:
        if exc.http_status in _GONE:
            return
        raise
    except BadRequest as exc:
        log.info("quoted post %s unusable: %s", quote.quoted_uri, exc.message)
        return
    if found is None:
        return
    verdict = await _verdict(state, note, quote, *found)
    await store.set_state(state.db, note.id, verdict, now=state.now())


async def quoted_note(state: State, uri: str) -> tuple[Note, Actor] | None:
    """The quoted post: stored, or fetched from its origin and stored (None when unknown here
    or deleted). Its author must be on its host, as for any note (``fetch_note``)."""
    found = await notes.by_uri(state.db, uri)
    if found is None:
        if state.urls.is_local(uri):
            return None
        incoming = await resolver.fetch_note(state, uri)
        author = await resolver.fetch_actor(state, incoming.attributed_to)
        await remote_notes.store(state, incoming, author)
        found = await notes.by_uri(state.db, uri)
        if found is None:
            return None
    owner = await actors.by_id(state.db, found.actor_id)
    return (found, owner) if owner is not None else None


async def _verdict(
    state: State, note: Note, quote: Quote, quoted: Note, quoted_author: Actor
) -> QuoteState:
    if quoted_author.id == note.actor_id:
        return "accepted"  # one may always quote oneself
    if quote.kind == "legacy":
        return "legacy"
    if not quote.authorization_uri:
        return "pending"
    if quoted.local:
        return await _our_stamp(state, quote.authorization_uri, note, quoted)
    if not same_origin(quote.authorization_uri, quoted.uri):
        # Not even fetched: only the quoted post's server can vouch for it.
        log.info("stamp %s for %s is on another host", quote.authorization_uri, note.uri)
        return "pending"
    return await verify_remote_stamp(
        state, quote.authorization_uri, quoting=note.uri, quoted=quoted, author=quoted_author
    )


async def verify_remote_stamp(
    state: State, url: str, *, quoting: str, quoted: Note, author: Actor
) -> QuoteState:
    """Fetch a remote stamp and check it; 'revoked' when its server says it is gone."""
    try:
        doc = await fetch_ap_object(
            state.http, url, guard=state.guard, auth=await state.instance_auth()
        )
        stamp = parse_stamp(doc)
    except UnsafeURL:
        return "pending"
    except FetchError as exc:
        if exc.http_status in _GONE:
            return "revoked"
        raise
    except BadRequest as exc:
        log.info("stamp %s unusable: %s", url, exc.message)
        return "pending"
    problem = stamp_problem(
        stamp, fetched_from=url, quoting=quoting, quoted=quoted.uri, quoted_author=author.uri
    )
    if problem:
        log.info("stamp %s refused: %s", url, problem)
        return "pending"
    return "accepted"


async def _our_stamp(state: State, url: str, note: Note, quoted: Note) -> QuoteState:
    """A stamp that names our server is looked up, never fetched."""
    token = stamp_token(state, url)
    stamp = await store.stamp_by_token(state.db, token) if token else None
    if stamp is None or stamp.quoted_note_id != quoted.id or stamp.quoting_uri != note.uri:
        return "pending"
    return "revoked" if stamp.revoked_at is not None else "accepted"


def stamp_url(state: State, token: str) -> str:
    return f"{state.config.instance.base_url}/quote-authorizations/{token}"


def stamp_token(state: State, url: str) -> str | None:
    prefix = stamp_url(state, "")
    token = url.removeprefix(prefix) if url.startswith(prefix) else ""
    return token if token and "/" not in token and len(token) <= 64 else None


async def on_delete(state: State, uri: str, actor: Actor) -> bool:
    """A Delete of a stamp: its quotes are revoked (only the quoted author may); True when
    ``uri`` was a stamp we knew."""
    found = await store.by_authorization(state.db, uri)
    for quote in found:
        quoted = await notes.by_uri(state.db, quote.quoted_uri)
        if quoted is not None and quoted.actor_id == actor.id:
            await store.set_state(state.db, quote.note_id, "revoked", now=state.now())
    return bool(found)
