"""Public pages: the local feed, the AI image gallery, profiles, threads, hashtags, about."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from quart import Quart, Response, render_template, request

from ..blurhash_png import is_valid, placeholder_png
from ..emoji_html import emojify_html
from ..errors import Forbidden, Gone, NotFound
from ..models import Actor, Note
from ..state import State
from ..storage import (
    account_data,
    actor_totals,
    actors,
    follows,
    moderation,
    mutes,
    notes,
    timelines,
)
from . import when
from .auth import page_context, viewer
from .common import StateHolder, see_other, with_notice
from .media_views import cached_files, local_or_cached, media_view, remote_urls
from .views import actor_fields, author_view, cards, permalink, profile_emoji

FEED_SIZE = 20
GALLERY_SIZE = 30
ANCESTORS_MAX = 20
DESCENDANTS_MAX = 300
PUBLIC_VIS = ("public", "unlisted")
STATIC_DIR = Path(__file__).resolve().parents[2] / "templates" / "static"
_STATIC_TYPES = {
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".js": "text/javascript; charset=utf-8",
}


def html_response(body: str, status: int = 200) -> Response:
    resp = Response(body, status=status, content_type="text/html; charset=utf-8")
    resp.headers["Vary"] = "Accept, Cookie"
    return resp


# What a page says after a redirect (``?done=KEY``); a fixed set, so no link can put words of
# its own into our pages.
NOTICES = {
    "deleted": "Your post was deleted, here and on the servers it had reached.",
    "posted": "Your post is published.",
    "asked": "Your question is posted. The AI's answer appears in this thread in a few seconds;"
    " reload the page to see it (it also arrives in your notifications).",
}


async def render(state: State, template: str, *, status: int = 200, **values: Any) -> Response:
    values.setdefault("alternate", None)
    # Each notice follows an action of a signed-in user; a visitor's link shows none.
    done = request.args.get("done", "") if viewer().account else ""
    values.setdefault("notice", NOTICES.get(done))
    now = state.now()
    values.setdefault("ago", lambda ts: when.ago(ts, now))
    values.setdefault("exact_time", when.exact)
    html = await render_template(template, **await page_context(state), **values)
    return html_response(html, status)


def _cursor_arg(name: str = "before") -> int | None:
    raw = request.args.get(name, "")
    # isascii(): str.isdigit() is also true for "²", which int() refuses.
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) < 19 else None


async def request_cursor(state: State) -> timelines.Cursor:
    before = _cursor_arg()
    return await timelines.cursor_of(state.db, before) if before is not None else None


def next_link(items: list[Note], size: int) -> str | None:
    if len(items) < size:
        return None
    return f"{request.path}?before={items[-1].id}"


async def render_profile(state: State, actor: Actor, *, tab: str = "posts") -> Response:
    if await moderation.is_suspended(state.db, actor.id):
        raise Forbidden("this account is suspended")  # Mastodon's answer: it may come back
    v = viewer()
    visibilities: tuple[str, ...] = ("public", "unlisted")
    if v.actor_id == actor.id:
        visibilities = ("public", "unlisted", "followers", "direct")
    else:
        relation = await follows.get(state.db, v.actor_id, actor.id) if v.actor_id else None
        if relation is not None and relation.state == "accepted":  # not a pending request
            visibilities = ("public", "unlisted", "followers")
    items = await timelines.by_actor(
        state.db,
        actor.id,
        visibilities=visibilities,
        cursor=await request_cursor(state),
        limit=FEED_SIZE,
        with_media=tab == "media",
    )
    relation = await follows.get(state.db, v.actor_id, actor.id) if v.actor_id else None
    muting, blocking = False, False
    if v.actor_id is not None:
        muting = actor.id in await mutes.muting(state.db, v.actor_id, [actor.id], now=state.now())
        blocking = await mutes.block_uri(state.db, v.actor_id, actor.id) is not None
    files = await cached_files(state, remote_urls([actor]))
    emoji = await profile_emoji(state, actor)
    shown = await actor_totals.counts(state.db, actor)
    return await render(
        state,
        "profile.html",
        actor=actor,
        author=author_view(actor, files, emoji),
        bio=emojify_html(actor.summary, emoji),
        header=local_or_cached(actor.image_url, local=actor.local, files=files, thumb=False),
        fields=actor_fields(actor, emoji),
        counts={
            "posts": shown.statuses,
            "followers": shown.followers,
            "following": shown.following,
        },
        tab=tab,
        relation=relation.state if relation else None,
        muting=muting,
        blocking=blocking,
        cards=await cards(state, items, v),
        next_page=next_link(items, FEED_SIZE),
        alternate=actor.uri,
    )


async def _ancestors(state: State, note: Note) -> list[Note]:
    return await timelines.ancestors(state.db, note, limit=ANCESTORS_MAX)


async def visible(state: State, items: list[Note]) -> list[Note]:
    """``items`` less what the viewer may not see: the rule of ``/notes/ID``, in one query."""
    v = viewer()
    allowed = await timelines.visible_note_ids(
        state.db, [n.id for n in items], v.actor_id, v.actor_uri
    )
    return [n for n in items if n.id in allowed]


async def hidden_from_viewer(state: State) -> mutes.Hidden:
    """Whom the signed-in viewer blocked or muted, or who blocked them (nobody if anonymous)."""
    v = viewer()
    if v.actor_id is None:
        return mutes.Hidden(frozenset(), frozenset())
    return await mutes.hidden(state.db, v.actor_id, now=state.now())


async def unhidden(state: State, items: list[Note]) -> list[Note]:
    """``items`` less the posts of accounts the viewer blocked or muted (the client API's rule)."""
    hidden = (await hidden_from_viewer(state)).from_timelines
    return [n for n in items if n.actor_id not in hidden] if hidden else items


async def render_note_page(state: State, note: Note, author: Actor) -> Response:
    v = viewer()
    if not await timelines.viewer_can_see(state.db, note, v.actor_id, v.actor_uri):
        raise NotFound("no such post")
    hidden = (await hidden_from_viewer(state)).from_timelines
    ancestors = [
        n for n in await visible(state, await _ancestors(state, note)) if n.actor_id not in hidden
    ]
    tree = await timelines.descendants(state.db, note.uri, limit=DESCENDANTS_MAX)
    replies = await visible(state, [n for n, _ in tree])
    shown = {n.id for n in replies if n.actor_id not in hidden}
    tree = [(n, d) for n, d in tree if n.id in shown]
    thread = [*ancestors, note, *(n for n, _ in tree)]
    depths = [0] * len(ancestors) + [0] + [min(d, 6) for _, d in tree]
    thread_cards = await cards(state, thread, v, depths=depths, focus_id=note.id)
    text = note.summary or note.source or ""
    return await render(
        state,
        "note.html",
        thread=thread_cards,
        title=f"{author.display_name or author.username}: {text[:60]}",
        alternate=note.uri if note.visibility in PUBLIC_VIS else None,
    )


def register(app: Quart, holder: StateHolder) -> None:
    @app.get("/")
    async def home() -> Response:
        state = holder.state
        items = await timelines.local_public(
            state.db, cursor=await request_cursor(state), limit=FEED_SIZE
        )
        ai = await actors.account_by_role(state.db, "ai")
        return await render(
            state,
            "index.html",
            cards=await cards(state, await unhidden(state, items), viewer()),
            ai=author_view(ai.actor) if ai else None,
            next_page=next_link(items, FEED_SIZE),
        )

    @app.get("/gallery")
    async def gallery() -> Response:
        state = holder.state
        items = await timelines.ai_gallery(
            state.db, before_media_id=_cursor_arg(), limit=GALLERY_SIZE
        )
        asked = [i.asked for i in items if i.asked is not None]
        authors = await actors.by_ids(
            state.db, [i.note.actor_id for i in items] + [a.actor_id for a in asked]
        )
        files = await cached_files(state, remote_urls((), (i.media for i in items)))
        tiles = []
        for item in items:
            author = authors.get(item.note.actor_id)
            mv = media_view(item.media, files, note_sensitive=item.note.sensitive)
            if author is None or mv is None:
                continue
            tile = {"media": mv, "link": permalink(item.note, author), "author": author}
            requester = authors.get(item.asked.actor_id) if item.asked else None
            if item.asked is not None and requester is not None:
                tile["asked"] = permalink(item.asked, requester)
                tile["asked_by"] = author_view(requester)
            tiles.append(tile)
        next_page = f"/gallery?before={items[-1].media.id}" if len(items) == GALLERY_SIZE else None
        return await render(state, "gallery.html", tiles=tiles, next_page=next_page)

    @app.get("/tags/<name>")
    async def hashtag(name: str) -> Response:
        state = holder.state
        tag = name.lower()[:100]
        items = await timelines.by_hashtag(
            state.db, tag, cursor=await request_cursor(state), limit=FEED_SIZE
        )
        return await render(
            state,
            "tag.html",
            tag=tag,
            cards=await cards(state, await unhidden(state, items), viewer()),
            next_page=next_link(items, FEED_SIZE),
        )

    @app.get("/about")
    async def about() -> Response:
        state = holder.state
        ai = await actors.account_by_role(state.db, "ai")
        return await render(
            state,
            "about.html",
            ai=author_view(ai.actor) if ai else None,
            text_backend=_backend_label(state, "text"),
            image_backend=_backend_label(state, "image"),
            describe_images=state.config.ai.describe_images,
            users=await actors.count_users(state.db),
            posts=await notes.count_local(state.db),
            foryou_enabled=state.config.ai_foryou.enabled,
            modassist_enabled=state.config.ai_moderation.assist,
        )

    @app.get("/@<username>/media")
    async def profile_media(username: str) -> Response:
        state = holder.state
        return await render_profile(state, await profile_actor(state, username), tab="media")

    @app.get("/notes/<int:note_id>")
    async def any_note(note_id: int) -> Response:
        state = holder.state
        note = await notes.by_id(state.db, note_id)
        author = await actors.by_id(state.db, note.actor_id) if note else None
        v = viewer()
        if (
            note is None
            or author is None
            or not await timelines.viewer_can_see(state.db, note, v.actor_id, v.actor_uri)
        ):
            raise NotFound("no such post")
        if note.local and note.url and note.url.startswith(state.config.instance.base_url):
            path = note.url.removeprefix(state.config.instance.base_url)
            done = request.args.get("done", "")
            return see_other(with_notice(path, done) if done in NOTICES else path, 301)
        return await render_note_page(state, note, author)

    @app.get("/blurhash/<value>.png")
    async def blurhash(value: str) -> Response:
        if not is_valid(value):
            raise NotFound("not a blurhash")
        resp = Response(placeholder_png(value), content_type="image/png")
        resp.headers["Cache-Control"] = "public, max-age=31536000, immutable"
        return resp

    @app.get("/static/<name>")
    async def static_file(name: str) -> Response:
        path = STATIC_DIR / name
        suffix = Path(name).suffix
        if "/" in name or suffix not in _STATIC_TYPES or not path.is_file():
            raise NotFound("no such file")
        resp = Response(path.read_bytes(), content_type=_STATIC_TYPES[suffix])
        resp.headers["Cache-Control"] = "public, max-age=3600"
        return resp

    @app.after_request
    async def security_headers(resp: Response) -> Response:
        resp.headers.setdefault("X-Content-Type-Options", "nosniff")
        if resp.content_type and resp.content_type.startswith("text/html"):
            resp.headers.setdefault(
                "Content-Security-Policy",
                "default-src 'none'; img-src 'self'; media-src 'self'; style-src 'self';"
                " script-src 'self'; form-action 'self' https: http:; frame-ancestors 'none';"
                " base-uri 'none'",
            )
            resp.headers.setdefault("Referrer-Policy", "same-origin")
            resp.headers.setdefault("X-Frame-Options", "DENY")
            resp.headers.setdefault("Permissions-Policy", "interest-cohort=()")
        return resp


async def profile_actor(state: State, username: str) -> Actor:
    """``/@name`` is a local account, ``/@name@domain`` a remote one we know."""
    if "@" in username:
        name, _, domain = username.partition("@")
        found = await actors.by_acct(state.db, name, domain.lower())
        if found is not None and not found.local:
            return found
        if domain.lower() not in (state.config.instance.domain, state.config.instance.host):
            raise NotFound("no such account here")
        username = name
    found = await actors.local_by_username(state.db, username.lower())
    if found is None and await account_data.deleted_username(state.db, username):
        raise Gone("this account was deleted")
    if found is None or found.type == "Application":
        raise NotFound("no such account")
    return found


def _backend_label(state: State, kind: str) -> str:
    c = state.config
    if kind == "text":
        t = c.ai_text
        if t.backend != "offline":
            return f"{t.model} ({t.backend})"
        from ..bot.services import offline_choice

        return f"{offline_choice(c).model.label.split(' (')[0]} (offline, llama.cpp)"
    i = c.ai_image
    return (
        "procedural painter (offline)" if i.backend == "procedural" else f"{i.model} ({i.backend})"
    )
