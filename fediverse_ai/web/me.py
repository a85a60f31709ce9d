"""Pages for a logged-in user: the home timeline and notifications."""

from __future__ import annotations

from urllib.parse import quote

from quart import Quart, Response, request

from ..storage import actors, notes, timelines
from .auth import require_login, viewer
from .common import StateHolder
from .pages import FEED_SIZE, hidden_from_viewer, render, visible
from .views import author_view, cards

NOTIFICATION_PAGE = 40


def register(app: Quart, holder: StateHolder) -> None:
    @app.get("/home")
    async def home_timeline() -> Response:
        state = holder.state
        account = require_login()
        cursor = timelines.parse_home_cursor(request.args.get("before", ""))
        items = await timelines.home(
            state.db, account.actor.id, account.actor.uri, cursor=cursor, limit=FEED_SIZE
        )
        shown = await visible(state, [i.note for i in items])
        hidden = (await hidden_from_viewer(state)).from_timelines
        allowed = {n.id for n in shown if n.actor_id not in hidden}
        kept = [i for i in items if i.note.id in allowed and i.boosted_by not in hidden]
        boosters = await actors.by_ids(state.db, [i.boosted_by for i in kept if i.boosted_by])
        built = await cards(state, [i.note for i in kept], viewer())
        entries = [
            {
                "card": card,
                "boosted_by": author_view(boosters[i.boosted_by])
                if i.boosted_by in boosters
                else None,
            }
            for i, card in zip(kept, built, strict=True)
        ]
        next_page = f"/home?before={quote(items[-1].cursor)}" if len(items) == FEED_SIZE else None
        return await render(state, "home.html", entries=entries, next_page=next_page)

    @app.get("/notifications")
    async def notifications() -> Response:
        state = holder.state
        account = require_login()
        raw_before = request.args.get("before", "")
        try:
            before = float(raw_before) if raw_before else None
        except ValueError:
            before = None
        items = await timelines.notifications(
            state.db, account.actor.id, account.actor.uri, before=before, limit=NOTIFICATION_PAGE
        )
        hidden = (await hidden_from_viewer(state)).from_notifications
        who = await actors.by_ids(state.db, [i.actor_id for i in items if i.actor_id not in hidden])
        note_ids = sorted({i.note_id for i in items if i.note_id is not None})
        by_id = {}
        for nid in note_ids:
            found = await notes.by_id(state.db, nid)
            if found is not None:
                by_id[nid] = found
        # The query already leaves out replies the viewer may not see; checking the cards
        # with the pages' own rule keeps it so whatever kind of notification is added later.
        shown = await visible(state, list(by_id.values()))
        note_cards = {c.note.id: c for c in await cards(state, shown, viewer())}
        rows = [
            {
                "kind": i.kind,
                "actor": author_view(who[i.actor_id]),
                "card": note_cards.get(i.note_id) if i.note_id else None,
                "at": i.at,
            }
            for i in items
            if i.actor_id in who and (i.note_id is None or i.note_id in note_cards)
        ]
        next_page = (
            f"/notifications?before={items[-1].at}" if len(items) == NOTIFICATION_PAGE else None
        )
        return await render(state, "notifications.html", rows=rows, next_page=next_page)
