"""The For-you page and the AI switches of a local account (``/settings/ai``).

The switches are plain POST forms (CSRF-checked in auth.py), so they work without script:
"show me For-you" (off until the user turns it on), "AI may use my posts" (on, and
effective only while the account is ``indexable``) and "describe pictures that come without
a description" (off until the user turns it on; ``bot.alt_text``).
"""

from __future__ import annotations

from quart import Quart, Response, request

from ..errors import BadRequest
from ..foryou import feed
from ..storage import embeddings, machine_alt
from .auth import require_login, safe_next, viewer
from .common import StateHolder, see_other
from .pages import FEED_SIZE, render, visible
from .views import cards

_ON = ("on", "1", "true", "yes")
_OFF = ("off", "0", "false", "no", "")
# Turning descriptions on describes the pictures of the last two days too, at most 200 of
# them (about 1 s of CPU each offline, BENCHMARKS.md): older ones stay as they are.
RECENT_SECONDS = 2 * 86_400
RECENT_PICTURES = 200


def _switch(value: str | None, name: str) -> bool:
    raw = (value or "").strip().lower()
    if raw in _ON:
        return True
    if raw in _OFF:
        return False
    raise BadRequest(f"{name}: on or off")


def _offset() -> int:
    raw = request.args.get("offset", "")
    if not raw:
        return 0
    if not raw.isdigit() or len(raw) > 6:
        raise BadRequest("offset: a whole number")
    return int(raw)


def register(app: Quart, holder: StateHolder) -> None:
    @app.get("/for-you")
    async def for_you() -> Response:
        state = holder.state
        account = require_login()
        prefs = await embeddings.preferences(state.db, account.actor.id)
        enabled = state.config.ai_foryou.enabled
        offset = _offset()
        entries: list[dict[str, object]] = []
        next_page = None
        if enabled and prefs.foryou:
            items = await feed.page(state, account.actor.id, offset=offset, limit=FEED_SIZE)
            allowed = {n.id for n in await visible(state, [i.note for i in items])}
            kept = [i for i in items if i.note.id in allowed]
            built = await cards(state, [i.note for i in kept], viewer())
            entries = [{"card": c, "reason": i.reason} for i, c in zip(kept, built, strict=True)]
            if len(items) == FEED_SIZE:
                next_page = f"/for-you?offset={offset + FEED_SIZE}"
        return await render(
            state,
            "for_you.html",
            entries=entries,
            next_page=next_page,
            prefs=prefs,
            enabled=enabled,
        )

    @app.get("/settings/ai")
    async def ai_settings() -> Response:
        state = holder.state
        account = require_login()
        prefs = await embeddings.preferences(state.db, account.actor.id)
        return await render(
            state,
            "settings_ai.html",
            prefs=prefs,
            indexable=account.actor.indexable,
            enabled=state.config.ai_foryou.enabled,
            describe={
                "offered": state.config.ai.describe_images,
                "on": await machine_alt.wants(state.db, account.actor.id),
                "sees": state.config.ai_text.vision,
                "hints": state.config.ai.offline_vision,
            },
        )

    @app.post("/settings/ai")
    async def save_ai_settings() -> Response:
        state = holder.state
        account = require_login()
        form = await request.form
        old = await embeddings.preferences(state.db, account.actor.id)
        # A form may change one switch only (the one on /for-you does): absent means unchanged.
        new = embeddings.Preferences(
            ai_may_use_posts=_switch(form["ai_may_use_posts"], "ai_may_use_posts")
            if "ai_may_use_posts" in form
            else old.ai_may_use_posts,
            foryou=_switch(form["foryou"], "foryou") if "foryou" in form else old.foryou,
        )
        now = state.now()
        if "describe_images" in form:
            on = _switch(form["describe_images"], "describe_images")
            was_on = await machine_alt.wants(state.db, account.actor.id)
            await machine_alt.set_wants(state.db, account.actor.id, on, now=now)
            if on and not was_on:  # the pictures already here, newest first (each job once)
                queued = await machine_alt.queue_recent(
                    state.db, since=now - RECENT_SECONDS, limit=RECENT_PICTURES, now=now
                )
                state.work_queued(queued)
        await embeddings.set_preferences(state.db, account.actor.id, new, now=now)
        if new.ai_may_use_posts and not old.ai_may_use_posts:
            window = state.config.ai_foryou.window_days * 86_400
            queued = await embeddings.requeue_author(
                state.db, account.actor.id, since=now - window, now=now
            )
            state.work_queued(queued)
        return see_other(safe_next(form.get("next"), "/settings/ai"), 303)
