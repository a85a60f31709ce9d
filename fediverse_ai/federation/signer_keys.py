"""The signer's public key, for the inbox: looked up in memory and the database, fetched rarely.

Key lookups run inside the inbox request, the one place where a peer makes us fetch before
answering, so they are bounded on every side (issue 17):

* the key must live on the host of the activity's actor, checked before any fetch: a POST
  naming Bob as its actor cannot make us fetch keys from a third host, and one naming Bob's
  key cannot come from another actor's host;
* a key we hold is refetched when it does not verify (the sender rotated it), unless the
  database already holds a newer one that another process fetched, but once a refetch found
  it unchanged, not again for a minute (``state.KEY_REFETCH_SECONDS``), and a
  key that could not be fetched is not tried again for as long: forged POSTs with Bob's key
  id cost Bob's server one GET a minute, not one each;
* concurrent lookups of one key share one fetch, a host gets at most a few fetches at a
  time (``state.KEY_FETCHES_PER_HOST``), and they go through their own small connection
  pool (``State.key_http``) with a deadline below the sender's own timeout, so a flood of
  new key ids neither starves the worker's fetches nor keeps senders waiting.

Refusals say only that the key could not be fetched: what the remote server answered (or
that it could not be reached) would make the inbox an oracle for probing other hosts.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from ..as2_in import parse_actor
from ..errors import BadRequest, FediverseError, FetchError, Forbidden, SignatureError
from ..fetcher import FetchLimits, fetch_ap_object
from ..httpsig import ResolvedKey
from ..models import Actor
from ..netguard import is_blocked_domain
from ..state import State
from ..storage import actors
from ..vocab import ACTOR_TYPES, host_of, same_origin, strip_fragment, type_of
from .resolver import store_actor

__all__ = ["KEY_FETCH_LIMITS", "fetch_key", "key_fetcher"]

log = logging.getLogger(__name__)

# Mastodon waits 10 s for an inbox to answer; the key fetch must leave time for the rest.
KEY_FETCH_LIMITS = FetchLimits(max_bytes=1_048_576, max_redirects=3, total_timeout=5.0)
COULD_NOT_FETCH = "could not fetch the signing key"


def key_fetcher(state: State, *, actor_uri: str) -> Callable[[str, bool], Awaitable[ResolvedKey]]:
    """The ``fetch_key`` callback of ``httpsig.verify_request`` for one request.

    A key fetched for this request is not fetched again when the verifier asks for a fresh
    one: it is as fresh as it gets.
    """
    fetched: dict[str, ResolvedKey] = {}

    async def lookup(key_id: str, refresh: bool) -> ResolvedKey:
        if key_id in fetched:
            return fetched[key_id]
        key = await fetch_key(state, key_id, refresh, actor_uri=actor_uri, fetched=fetched)
        return key

    return lookup


async def fetch_key(
    state: State,
    key_id: str,
    refresh: bool,
    *,
    actor_uri: str,
    fetched: dict[str, ResolvedKey] | None = None,
) -> ResolvedKey:
    """Key lookup for the signature verifier: memory, then the database, then a fetch.

    ``refresh`` is the verifier asking again because the key it got did not verify: the
    sender rotated its key, or the signature is forged. When a refetch finds the key
    unchanged, further refetches of that key wait ``KEY_REFETCH_SECONDS``; a key that could
    not be fetched is refused for as long. A fetch made here is put in ``fetched``.
    """
    if not same_origin(key_id, actor_uri):
        raise SignatureError("the signing key is not on the actor's host")
    if is_blocked_domain((host_of(key_id) or "").split(":")[0], await state.blocked_domains()):
        raise Forbidden("this domain is blocked here")
    remembered = state.keys.get(key_id)
    # A key that did not verify is looked up in the database again, not in this process's
    # memo: another process (issue 15) may have refetched the rotated key already.
    known = remembered if remembered is not None and not refresh else await _stored(state, key_id)
    if refresh and known is not None and remembered is not None and known != remembered:
        return known
    if known is not None and (not refresh or state.key_fetches.unchanged.get(key_id)):
        return known
    if state.key_fetches.failed.get(key_id):
        raise SignatureError(COULD_NOT_FETCH)
    resolved = await _fetch_once(state, key_id)
    if fetched is not None:
        fetched[key_id] = resolved
    if known is not None and known.public_key_pem == resolved.public_key_pem:
        state.key_fetches.unchanged.put(key_id, True)
    return resolved


async def _fetch_once(state: State, key_id: str) -> ResolvedKey:
    """One fetch of ``key_id`` at a time; concurrent lookups wait for it and share its end."""
    throttle = state.key_fetches
    pending = throttle.in_flight.get(key_id)
    if pending is not None:
        return await asyncio.shield(pending)
    future: asyncio.Future[ResolvedKey] = asyncio.get_running_loop().create_future()
    throttle.in_flight[key_id] = future
    try:
        resolved = await _fetch(state, key_id)
    except SignatureError as exc:
        throttle.failed.put(key_id, True)
        future.set_exception(exc)
        future.exception()  # retrieved: asyncio must not log it when nobody else waited
        raise
    else:
        future.set_result(resolved)
        return resolved
    finally:
        del throttle.in_flight[key_id]


async def _stored(state: State, key_id: str) -> ResolvedKey | None:
    """The key as the database has it (remembered in this process's memo)."""
    actor = await actors.by_key_id(state.db, key_id)
    if actor is None or not actor.public_key_pem:
        return None
    resolved = ResolvedKey(key_id=key_id, owner=actor.uri, public_key_pem=actor.public_key_pem)
    state.keys.put(key_id, resolved)
    return resolved


async def _fetch(state: State, key_id: str) -> ResolvedKey:
    state.keys.forget(key_id)
    try:
        async with state.key_fetches.slot(host_of(key_id) or ""):
            actor = await _fetch_key_owner(state, key_id)
    except FediverseError as exc:
        # Fetch errors, the size cap, the SSRF guard, a document that is no actor: all the
        # sender learns is that the key could not be had.
        log.info("signing key %s not fetched: %s", key_id, exc.message)
        raise SignatureError(COULD_NOT_FETCH) from None
    if actor.public_key_id != key_id or not actor.public_key_pem:
        raise SignatureError("the key's owner does not list this key")
    resolved = ResolvedKey(key_id=key_id, owner=actor.uri, public_key_pem=actor.public_key_pem)
    state.keys.put(key_id, resolved)
    return resolved


async def _fetch_key_owner(state: State, key_id: str) -> Actor:
    doc = await _fetch_document(state, key_id)
    if type_of(doc) not in ACTOR_TYPES:
        # A stand-alone key document (e.g. GoToSocial's key URLs): its owner must list it.
        owner = doc.get("owner")
        if not isinstance(owner, str) or not same_origin(owner, strip_fragment(key_id)):
            raise FetchError("key document has no owner on its host")
        doc = await _fetch_document(state, owner)
        if type_of(doc) not in ACTOR_TYPES or doc.get("id") != owner:
            raise FetchError("the key's owner is not an actor")
    try:
        parsed = parse_actor(doc)
    except BadRequest as exc:
        raise FetchError(f"not a usable actor: {exc.message}") from None
    return await store_actor(state, parsed, read_totals=False)


async def _fetch_document(state: State, url: str) -> dict[str, Any]:
    auth = await state.instance_auth()
    return await fetch_ap_object(
        state.key_http, url, guard=state.guard, auth=auth, limits=KEY_FETCH_LIMITS
    )
