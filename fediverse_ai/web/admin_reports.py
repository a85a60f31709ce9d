"""The admin page's moderation: open reports (by local users and from other servers' Flags)
with the posts they name, and the actions on them: suspend or silence the account (and undo),
remove a post. Each is a CSRF-checked form, as the other admin forms are."""

from __future__ import annotations

from dataclasses import dataclass

from quart import Quart, Response, request

from ..errors import NotFound
from ..federation import moderation
from ..models import Actor, Note
from ..state import State
from ..storage import actors, notes, reactions
from ..storage import moderation as standing_store
from .auth import require_admin, safe_next, viewer
from .common import StateHolder, see_other
from .views import AuthorView, Card, author_view, author_views, cards


@dataclass(frozen=True)
class ReportView:
    report: reactions.Report
    reporter: AuthorView | None  # None: a remote reporter we have no actor for
    target: AuthorView | None
    standing: standing_store.Standing
    posts: list[Card]
    missing: list[str]  # object ids that are neither a known account nor a stored post


@dataclass(frozen=True)
class ModeratedView:
    author: AuthorView
    standing: standing_store.Standing


async def _objects(
    state: State, uris: tuple[str, ...]
) -> tuple[list[Actor], list[Note], list[str]]:
    found_actors, found_notes, missing = [], [], []
    for uri in uris:
        if (note := await notes.by_uri(state.db, uri)) is not None:
            found_notes.append(note)
        elif (actor := await actors.by_uri(state.db, uri)) is not None:
            found_actors.append(actor)
        else:
            missing.append(uri)
    return found_actors, found_notes, missing


async def report_views(state: State) -> list[ReportView]:
    out = []
    for r in await reactions.list_reports(state.db, include_resolved=False):
        uris = r.object_uris if r.target_uri is None else (r.target_uri, *r.object_uris)
        named, posts, missing = await _objects(state, uris)
        target = named[0] if named else None
        if target is None and posts:
            target = await actors.by_id(state.db, posts[0].actor_id)
        reporter = await actors.by_uri(state.db, r.reporter_uri)
        people = await author_views(state, [a for a in (reporter, target) if a is not None])
        out.append(
            ReportView(
                report=r,
                reporter=people.get(reporter.id) if reporter else None,
                target=people.get(target.id) if target else None,
                standing=await standing_store.standing(state.db, target.id)
                if target
                else standing_store.Standing(),
                posts=await cards(state, posts, viewer()),
                missing=missing,
            )
        )
    return out


async def moderated_views(state: State) -> list[ModeratedView]:
    return [ModeratedView(author_view(a), s) for a, s in await standing_store.moderated(state.db)]


def register(app: Quart, holder: StateHolder) -> None:
    @app.post("/admin/accounts/<int:actor_id>/<action>")
    async def moderate_account(actor_id: int, action: str) -> Response:
        state = holder.state
        require_admin()
        target = await actors.by_id(state.db, actor_id)
        handler = moderation.ACCOUNT_ACTIONS.get(action)
        if target is None or handler is None:
            raise NotFound("no such account or action")
        await handler(state, target)
        return see_other(safe_next((await request.form).get("next"), "/admin#reports"), 303)

    @app.post("/admin/notes/<int:note_id>/remove")
    async def remove_post(note_id: int) -> Response:
        state = holder.state
        require_admin()
        note = await notes.by_id(state.db, note_id)
        if note is None:
            raise NotFound("no such post")
        await moderation.remove_post(state, note)
        return see_other(safe_next((await request.form).get("next"), "/admin#reports"), 303)
