"""Actors, their collections, notes and media, served at their ids (AS2 or HTML)."""

from __future__ import annotations

import mimetypes
import re
from typing import Any

from quart import Quart, Response, redirect, request

from .. import as2_out, custom_emoji
from ..errors import Forbidden, Gone, NotFound, SignatureError
from ..federation.publish import note_json
from ..models import Actor, Note
from ..state import State
from ..storage import account_data, actors, follows, media, moderation, notes, saved, timelines
from . import stored_files
from .common import StateHolder, as2_response, page_number, wants_as2
from .pages import profile_actor, render_note_page, render_profile
from .signed import get_signer

PAGE_SIZE = 20
PUBLIC_VIS = ("public", "unlisted")
# What secure mode shows an unsigned fetch of an actor: enough to verify its signatures and
# deliver to it, nothing of the profile.
_MINIMAL_ACTOR = frozenset(
    {"@context", "id", "type", "preferredUsername", "inbox", "outbox", "endpoints", "publicKey"}
)


class Unset:
    """``_visible_note``'s viewer when the caller did not look it up."""


UNSET = Unset()
_MEDIA_NAME = re.compile(r"^[0-9a-f]{32}\.(jpg|png|webp|gif)$")


async def _local_actor(
    state: State, username: str | None, *, even_suspended: bool = False
) -> Actor:
    """The local actor at ``username``; 403 while suspended, as Mastodon answers for the
    collections and posts of a suspended account (410 would tell peers it is gone for good)."""
    if username is None:
        account = await actors.account_by_role(state.db, "instance")
        found = account.actor if account else None
    else:
        found = await actors.local_by_username(state.db, username)
    if found is None:
        if username is not None and await account_data.deleted_username(state.db, username):
            raise Gone("this account was deleted")
        raise NotFound("no such actor")
    if not even_suspended and await moderation.is_suspended(state.db, found.id):
        raise Forbidden("this account is suspended")
    return found


def register(app: Quart, holder: StateHolder) -> None:
    def actor_routes(prefix: str, fixed: bool) -> None:
        """Routes for /users/<username>/... and for the instance actor at /actor/..."""
        suffix = "" if fixed else "/<username>"
        base = f"{prefix}{suffix}"

        @app.get(base, endpoint=f"actor{prefix}")
        async def actor_doc(username: str | None = None) -> Any:
            state = holder.state
            if username is not None and await account_data.deleted_username(state.db, username):
                # Until the purge, peers that refetch the actor learn it is gone for good.
                uri = state.urls.actor(username.lower())
                if wants_as2(request):
                    return as2_response(as2_out.actor_tombstone(uri), status=410)
                raise Gone("this account was deleted")
            actor = await _local_actor(state, username, even_suspended=True)
            if not wants_as2(request):
                if fixed:
                    return redirect("/")
                return await render_profile(state, actor)
            # Peers fetch actors (and the instance actor above all) to check our signatures,
            # unsigned: in secure mode an unsigned fetch gets the key, not the profile.
            signer = await get_signer(state, request)
            doc = as2_out.actor_document(
                actor, webfinger=f"{actor.username}@{state.config.instance.host}"
            )
            doc["tag"] = await custom_emoji.actor_tags(state, actor)
            if signer is None and _secure(state) and not fixed:
                doc = {k: v for k, v in doc.items() if k in _MINIMAL_ACTOR}
            if await moderation.is_suspended(state.db, actor.id):
                # Served, as Mastodon serves it: peers that refetch learn of the suspension.
                doc = as2_out.suspended_actor(doc)
            return as2_response(doc)

        @app.get(f"{base}/followers", endpoint=f"followers{prefix}")
        async def followers(username: str | None = None) -> Response:
            state = holder.state
            await as2_viewer(state)
            actor = await _local_actor(state, username)
            total = await follows.count_followers(state.db, actor.id)
            return await _actor_collection(
                actor.followers_url or "",
                total,
                lambda off: follows.followers(state.db, actor.id, offset=off, limit=PAGE_SIZE),
            )

        @app.get(f"{base}/following", endpoint=f"following{prefix}")
        async def following(username: str | None = None) -> Response:
            state = holder.state
            await as2_viewer(state)
            actor = await _local_actor(state, username)
            total = await follows.count_following(state.db, actor.id)
            return await _actor_collection(
                actor.following_url or "",
                total,
                lambda off: follows.following(state.db, actor.id, offset=off, limit=PAGE_SIZE),
            )

        @app.get(f"{base}/collections/featured", endpoint=f"featured{prefix}")
        async def featured(username: str | None = None) -> Response:
            state = holder.state
            await as2_viewer(state)
            actor = await _local_actor(state, username)
            # Pins (at most five, public or unlisted) as whole Notes, as Mastodon serves them.
            pinned = [
                n for n in await saved.pinned(state.db, actor.id) if n.visibility in PUBLIC_VIS
            ]
            items = [as2_out.strip_context(await note_json(state, n, actor)) for n in pinned]
            doc = as2_out.ordered_collection(actor.featured_url or "", total=len(items), first=None)
            doc["orderedItems"] = items
            return as2_response(doc)

        @app.get(f"{base}/outbox", endpoint=f"outbox{prefix}")
        async def outbox(username: str | None = None) -> Response:
            state = holder.state
            await as2_viewer(state)
            actor = await _local_actor(state, username)
            return await _outbox(state, actor)

    actor_routes("/users", fixed=False)
    actor_routes("/actor", fixed=True)

    @app.get("/@<username>")
    async def profile(username: str) -> Any:
        state = holder.state
        actor = await profile_actor(state, username)
        if wants_as2(request):
            return redirect(actor.uri)
        return await render_profile(state, actor)

    @app.get("/users/<username>/statuses/<status_id>")
    async def note_by_id(username: str, status_id: str) -> Any:
        state = holder.state
        if not wants_as2(request):
            return await render_note_page(state, *await _any_note(state, username, status_id))
        note, author = await _visible_note(state, state.urls.note(username, status_id))
        return _private_if(note, as2_out.with_context(await note_json(state, note, author)))

    @app.get("/@<username>/<status_id>")
    async def note_page(username: str, status_id: str) -> Any:
        state = holder.state
        if not wants_as2(request):
            return await render_note_page(state, *await _any_note(state, username, status_id))
        note, author = await _visible_note(state, state.urls.note(username, status_id))
        return _private_if(note, as2_out.with_context(await note_json(state, note, author)))

    @app.get("/users/<username>/statuses/<status_id>/activity")
    async def note_activity(username: str, status_id: str) -> Response:
        state = holder.state
        note, author = await _visible_note(state, state.urls.note(username, status_id))
        return _private_if(
            note,
            as2_out.activity(
                "Create",
                activity_id=f"{note.uri}/activity",
                actor=author.uri,
                obj=await note_json(state, note, author),
                to=note.to,
                cc=note.cc,
                published=note.published,
            ),
        )

    @app.get("/users/<username>/statuses/<status_id>/replies")
    async def note_replies(username: str, status_id: str) -> Response:
        state = holder.state
        viewer = await as2_viewer(state)
        note, _ = await _visible_note(state, state.urls.note(username, status_id), viewer)
        replies = await notes.replies_to(state.db, note.uri, public_only=viewer is None)
        if viewer is not None:
            seen = await timelines.visible_note_ids(
                state.db, [r.id for r in replies], viewer.id, viewer.uri
            )
            replies = [r for r in replies if r.id in seen]
        doc = as2_out.ordered_collection(f"{note.uri}/replies", total=len(replies), first=None)
        doc["orderedItems"] = [r.uri for r in replies]
        return _private_if(note, doc, any(r.visibility not in PUBLIC_VIS for r in replies))

    @app.get("/media/<name>")
    async def media_file(name: str) -> Response:
        state = holder.state
        if not _MEDIA_NAME.match(name):
            raise NotFound("no such file")
        row = await media.local_by_file_name(state.db, name)
        if row is None:
            raise NotFound("no such file")
        # Uploaded bytes are never served with an AP content type (GHSA-jhrq-qvrm-qr36).
        mime = (
            row.media_type
            if row.media_type.startswith("image/")
            else (mimetypes.guess_type(name)[0] or "application/octet-stream")
        )
        return await stored_files.serve(state, name, media_type=mime)


async def _any_note(state: State, username: str, status_id: str) -> tuple[Note, Actor]:
    """The note whatever its visibility: the HTML page checks what the viewer may see."""
    note = await notes.by_uri(state.db, state.urls.note(username, status_id))
    author = await actors.by_id(state.db, note.actor_id) if note else None
    if note is None or author is None:
        raise NotFound("no such post")
    return note, author


async def _visible_note(
    state: State, uri: str, viewer: Actor | Unset | None = UNSET
) -> tuple[Note, Actor]:
    """The note at ``uri`` if the request's signer may see it (authorized fetch): public and
    unlisted ones for anyone, followers-only ones for followers and the mentioned, direct
    ones for the mentioned; 404 otherwise, as if it did not exist."""
    if isinstance(viewer, Unset):
        viewer = await as2_viewer(state)
    note = await notes.by_uri(state.db, uri)
    if note is None:
        raise NotFound("no such post")
    if note.visibility not in PUBLIC_VIS and (
        viewer is None or not await timelines.viewer_can_see(state.db, note, viewer.id, viewer.uri)
    ):
        raise NotFound("no such post")
    author = await actors.by_id(state.db, note.actor_id)
    if author is None:
        raise NotFound("no such post")
    if await moderation.is_suspended(state.db, author.id):
        raise Forbidden("this account is suspended")
    return note, author


async def as2_viewer(state: State) -> Actor | None:
    """Who signed this AS2 GET; in secure mode (``federation.authorized_fetch``) an unsigned
    one is refused, as Mastodon's AUTHORIZED_FETCH and GoToSocial do."""
    signer = await get_signer(state, request)
    if signer is None and _secure(state):
        raise SignatureError("this server answers signed requests only (authorized fetch)")
    return signer


def _secure(state: State) -> bool:
    return state.config.federation.authorized_fetch


def _private_if(note: Note, doc: dict[str, Any], private: bool = False) -> Response:
    """What only some may see must not be kept by a shared cache."""
    response = as2_response(doc)
    if private or note.visibility not in PUBLIC_VIS:
        response.headers["Cache-Control"] = "private"
    return response


async def _actor_collection(collection_id: str, total: int, fetch: Any) -> Response:
    page = page_number(request)
    if page is None:
        return as2_response(
            as2_out.ordered_collection(collection_id, total=total, first=f"{collection_id}?page=1")
        )
    items = await fetch((page - 1) * PAGE_SIZE)
    more = page * PAGE_SIZE < total
    return as2_response(
        as2_out.ordered_page(
            f"{collection_id}?page={page}",
            part_of=collection_id,
            items=[a.uri for a in items],
            next_page=f"{collection_id}?page={page + 1}" if more else None,
            total=total,
        )
    )


async def _outbox(state: State, actor: Actor) -> Response:
    outbox_id = actor.outbox or ""
    total = await notes.count_by_actor(state.db, actor.id, visibilities=("public",))
    if page_number(request) is None:
        return as2_response(
            as2_out.ordered_collection(outbox_id, total=total, first=f"{outbox_id}?page=true")
        )
    before_raw = request.args.get("before")
    digits = (before_raw or "").replace(".", "", 1)
    # isascii(): str.isdigit() is also true for "²", which float() refuses.
    before = float(before_raw) if before_raw and digits.isascii() and digits.isdigit() else None
    items = await notes.by_actor(
        state.db, actor.id, visibilities=("public",), before=before, limit=PAGE_SIZE
    )
    activities = []
    for note in items:
        obj = await note_json(state, note, actor)
        activities.append(as2_out.outbox_create(note, obj))
    next_page = (
        f"{outbox_id}?page=true&before={items[-1].published}" if len(items) == PAGE_SIZE else None
    )
    page_id = f"{outbox_id}?page=true" + (f"&before={before_raw}" if before_raw else "")
    return as2_response(
        as2_out.ordered_page(
            page_id, part_of=outbox_id, items=activities, next_page=next_page, total=total
        )
    )
