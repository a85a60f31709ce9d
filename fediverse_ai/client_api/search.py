"""``/api/v2/search``: accounts by handle or profile URL, statuses by URL, hashtags by prefix.

With ``resolve=true`` (and a user's token, as in Mastodon) an unknown handle is looked up by
WebFinger, an unknown URL fetched as an actor or a note, through the same signed,
SSRF-guarded fetches federation uses (``federation.resolver``); a fetched note is stored as
if it had been delivered. What cannot be fetched is simply not found: Mastodon answers with
empty results, not an error. Full-text search of statuses is not offered (Mastodon needs
Elasticsearch for it); a status is found by its URL only.
"""

from __future__ import annotations

from quart import Blueprint, Response, request

from ..errors import FediverseError
from ..federation import remote_notes, resolver
from ..models import Actor, Note
from ..state import State
from ..storage import actors, search
from ..web.common import StateHolder, json_response
from . import lookup, params, relations
from .accounts import by_handle
from .entities import Builder
from .tokens import user

SEARCH_LIMIT = 40
MAX_QUERY = 500


async def _accounts(state: State, query: str, resolve: bool) -> list[Actor]:
    if query.startswith(("https://", "http://")):
        found = await actors.by_uri(state.db, query)
        if found is None and resolve:
            try:
                found = await resolver.fetch_actor(state, query, exact=False)
            except FediverseError:
                found = None
        return [found] if found is not None else []
    if "@" in query.lstrip("@"):
        actor = await by_handle(state, query)
        if actor is None and resolve:
            try:
                actor = await resolver.resolve_handle(state, query)
            except FediverseError:
                actor = None
        return [actor] if actor is not None else []
    local = await actors.local_by_username(state.db, query.lstrip("@").lower())
    return [local] if local is not None else []


async def _status(state: State, url: str, resolve: bool) -> Note | None:
    found = await search.note_by_address(state.db, url)
    if found is not None or not resolve or state.urls.is_local(url):
        return found
    try:
        incoming = await resolver.fetch_note(state, url)
        found = await search.note_by_address(state.db, incoming.uri)
        if found is None:
            author = await resolver.fetch_actor(state, incoming.attributed_to)
            found = await remote_notes.store(state, incoming, author)
    except FediverseError:
        return None
    return found


def register(bp: Blueprint, holder: StateHolder) -> None:
    @bp.get("/api/v2/search")
    async def search_v2() -> Response:
        state = holder.state
        account, _ = await user(state, "read:search", "read:accounts")
        me = account.actor
        p = dict(request.args)
        query = (params.text(p, "q", limit=MAX_QUERY) or "").strip()
        kind = p.get("type") or None
        resolve = params.flag(p, "resolve")
        limit = params.page(default=20, cap=SEARCH_LIMIT).limit
        hidden = (await relations.hidden(state, me)).from_timelines
        build = Builder(state, me)
        out: dict[str, list[object]] = {"accounts": [], "statuses": [], "hashtags": []}
        if not query:
            return json_response(out)
        if kind in (None, "accounts"):
            found = [a for a in await _accounts(state, query, resolve) if a.id not in hidden]
            out["accounts"] = list(await build.accounts(found[:limit]))
        if kind in (None, "statuses") and query.startswith(("https://", "http://")):
            note = await _status(state, query, resolve)
            shown = await lookup.visible(state, me, [note]) if note is not None else []
            out["statuses"] = list(
                await build.statuses([n for n in shown if n.actor_id not in hidden])
            )
        tag = query.lstrip("#").lower()
        if kind in (None, "hashtags") and tag and tag.replace("_", "").isalnum():
            out["hashtags"] = [
                {"name": name, "url": state.urls.tag(name), "history": [], "following": False}
                for name, _ in await search.hashtags(state.db, tag, limit)
            ]
        return json_response(out)
