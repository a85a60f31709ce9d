"""Remote actors, keys, handles and notes: fetched signed, origin-checked, cached."""

from __future__ import annotations

import dataclasses
import re
from urllib.parse import quote, urlsplit

from .. import safe_json
from ..as2_in import IncomingNote, RemoteActorDoc, parse_actor, parse_note
from ..consent import requeue_if_allowed_again
from ..errors import BadRequest, FetchError, NotFound
from ..fetcher import fetch_ap_object, fetch_bytes
from ..models import Actor
from ..sanitize import sanitize_html
from ..state import State
from ..storage import actors, remote_files
from ..vocab import host_of, same_origin, strip_fragment
from . import remote_totals

_LOCAL_NAME = re.compile(r"[\w.-]{1,64}")


async def fetch_actor(
    state: State, uri: str, *, refresh: bool = False, exact: bool = True
) -> Actor:
    """The actor at ``uri``: from the cache while fresh, else fetched and stored.

    The actor returned *is* ``uri`` (its id, fragment aside), so callers may act for it: a
    document served for one URL never stands for another actor (issue 17). ``exact=False``
    is for addresses a person typed (``https://host/@bob``), where the host's canonical id
    for the same actor is wanted.
    """
    cached = await actors.by_uri(state.db, uri)
    if cached is not None and cached.local:
        return cached
    max_age = state.config.federation.actor_cache_seconds
    if (
        cached is not None
        and not refresh
        and cached.fetched_at is not None
        and state.now() - cached.fetched_at < max_age
    ):
        return cached
    try:
        doc = await fetch_ap_object(
            state.http, uri, guard=state.guard, auth=await state.instance_auth()
        )
    except FetchError as exc:
        if exc.http_status == 410 and cached is not None:
            await actors.delete_remote(state.db, uri)
        raise
    try:
        parsed = parse_actor(doc)
    except BadRequest as exc:
        raise FetchError(f"not a usable actor: {exc.message}") from None
    if exact and parsed.uri != strip_fragment(uri):
        raise FetchError("the actor's id is not the URL asked for")
    return await store_actor(state, parsed)


async def store_actor(state: State, parsed: RemoteActorDoc, *, read_totals: bool = True) -> Actor:
    """Check an actor document's internal origins and cache it.

    ``read_totals=False`` for the signer's key fetched in the inbox request: a request that is
    then refused must leave no job behind (the inbox job reads them once accepted)."""
    check_actor_origin(parsed)
    if parsed.shared_inbox:
        # One endpoint per server by definition; a query string would only make each of a
        # server's actors a delivery of its own (one signed POST per actor, not per server).
        shared = urlsplit(parsed.shared_inbox)._replace(query="", fragment="").geturl()
        parsed = dataclasses.replace(parsed, shared_inbox=shared)
    domain = host_of(parsed.uri) or ""
    summary = sanitize_html(parsed.summary)
    before = await actors.by_uri(state.db, parsed.uri)
    actor = await actors.upsert_remote(
        state.db, parsed, domain=domain, summary=summary, now=state.now()
    )
    await requeue_if_allowed_again(state, before, actor)
    if read_totals:
        await remote_totals.queue(state, actor)
    pictures = [
        (url, kind) for url, kind in ((actor.icon_url, "avatar"), (actor.image_url, "header"))
    ]
    wanted = [
        (url, kind) for url, kind in pictures if url and url.startswith(("https://", "http://"))
    ] + [(e.url, "emoji") for e in parsed.emojis]
    changed = [(e.url, e.updated) for e in parsed.emojis if e.updated is not None]
    queued = await remote_files.want(state.db, wanted, now=state.now())
    queued += await remote_files.refresh_emoji(state.db, changed, now=state.now())
    if queued:
        state.work_queued(queued)
    return actor


def check_actor_origin(parsed: RemoteActorDoc) -> None:
    """Misskey's rule, and ours: an actor's endpoints and key live on its own host."""
    for name, url in (
        ("inbox", parsed.inbox),
        ("shared inbox", parsed.shared_inbox),
        ("outbox", parsed.outbox),
        ("followers", parsed.followers),
        ("key", parsed.key_id),
    ):
        if url and not same_origin(url, parsed.uri):
            raise FetchError(f"actor {name} is on another host")
    if parsed.key_owner and parsed.key_owner != parsed.uri:
        raise FetchError("actor key belongs to another actor")


def parse_handle(handle: str) -> tuple[str, str]:
    text = handle.strip().removeprefix("acct:").lstrip("@")
    username, sep, domain = text.partition("@")
    if not sep or not username or not domain or "/" in domain:
        raise BadRequest(f"not a fediverse handle: {handle!r} (expected user@domain)")
    return username.lower(), domain.lower()


async def resolve_handle(state: State, handle: str) -> Actor:
    """``user@domain`` (or an actor URL) -> the actor, through WebFinger when remote."""
    if handle.startswith(("https://", "http://")):
        return await fetch_actor(state, handle, exact=False)
    short = handle.strip().removeprefix("acct:").lstrip("@")
    if _LOCAL_NAME.fullmatch(short):
        # "@name", as a mention of a local account is written: this server's account.
        handle = f"{short}@{state.config.instance.host}"
    username, domain = parse_handle(handle)
    if domain in (state.config.instance.domain, state.config.instance.host):
        local = await actors.local_by_username(state.db, username)
        if local is None:
            raise NotFound(f"no local account {username}")
        return local
    known = await actors.by_acct(state.db, username, domain)
    if known is not None:
        return await fetch_actor(state, known.uri)
    href = _self_link(await _webfinger(state, username, domain))
    if href is None:
        raise FetchError("WebFinger answer has no ActivityPub actor link")
    actor = await fetch_actor(state, href)
    if host_of(actor.uri) != domain:
        await _confirm_handle(state, actor, f"acct:{username}@{domain}")
    return actor


async def _confirm_handle(state: State, actor: Actor, subject: str) -> None:
    """A handle's server pointed at an actor on another host (Mastodon's split of the handle
    domain and the web domain): that host must claim the handle too, as Mastodon checks, or
    any server could give its handles to other servers' actors."""
    host = host_of(actor.uri) or ""
    jrd = await _webfinger(state, actor.username, host)
    claimed = jrd.get("subject") if isinstance(jrd, dict) else None
    if not isinstance(claimed, str) or claimed.lower() != subject or _self_link(jrd) != actor.uri:
        raise FetchError("the actor's server does not confirm this handle")


async def _webfinger(state: State, username: str, domain: str) -> object:
    scheme = "http" if state.config.instance.scheme == "http" else "https"
    resource = quote(f"acct:{username}@{domain}", safe="@:")
    url = f"{scheme}://{domain}/.well-known/webfinger?resource={resource}"
    fetched = await fetch_bytes(
        state.http, url, guard=state.guard, accept="application/jrd+json, application/json"
    )
    try:
        return safe_json.loads(fetched.body)
    except BadRequest:
        raise FetchError("WebFinger answer is not JSON") from None


async def subscribe_url(state: State, handle: str, target: str) -> str:
    """Where to send a visitor whose account is ``handle`` so that their own server lets
    them follow or interact with ``target`` (OStatus subscribe template, as Mastodon has)."""
    username, domain = parse_handle(handle)
    jrd = await _webfinger(state, username, domain)
    links = jrd.get("links") if isinstance(jrd, dict) else None
    for link in links if isinstance(links, list) else []:
        if (
            isinstance(link, dict)
            and link.get("rel") == "http://ostatus.org/schema/1.0/subscribe"
            and isinstance(link.get("template"), str)
            and "{uri}" in link["template"]
        ):
            url = str(link["template"]).replace("{uri}", quote(target, safe=""))
            if url.startswith(("https://", "http://")):
                return url
    raise FetchError(f"{domain} does not say how to follow from it; search for {target} there")


def _self_link(jrd: object) -> str | None:
    if not isinstance(jrd, dict):
        return None
    for link in jrd.get("links") or []:
        if not isinstance(link, dict) or link.get("rel") != "self":
            continue
        media_type = str(link.get("type", ""))
        if "activity+json" in media_type or "ld+json" in media_type:
            href = link.get("href")
            return href if isinstance(href, str) else None
    return None


async def fetch_note(state: State, uri: str) -> IncomingNote:
    """Fetch a remote note from its origin; its author must live on the same host."""
    doc = await fetch_ap_object(
        state.http, uri, guard=state.guard, auth=await state.instance_auth()
    )
    try:
        note = parse_note(doc)
    except BadRequest as exc:
        raise FetchError(f"not a usable note: {exc.message}") from None
    if not same_origin(note.attributed_to, note.uri):
        raise FetchError("note author is on another host")
    return note
