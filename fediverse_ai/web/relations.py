"""Block, mute and report from the web pages: the buttons on a profile and a post's report form.

A block is the client API's (``federation.blocking``: federated, follows end both ways); a mute
stays here. The pages then leave both out of the viewer's timelines and notifications
(:func:`fediverse_ai.web.pages.unhidden`), as the client API does.
"""

from __future__ import annotations

from quart import Quart, Response, request

from ..errors import BadRequest, NotFound
from ..federation import blocking, moderation
from ..models import Account, Actor, Note
from ..state import State
from ..storage import actors, mutes
from .actions import visible_note
from .auth import require_login, safe_next, viewer
from .common import StateHolder, see_other
from .pages import render
from .views import author_view, cards

ACCOUNT_ACTIONS = ("block", "unblock", "mute", "unmute")


def register(app: Quart, holder: StateHolder) -> None:
    @app.post("/accounts/<int:actor_id>/<action>")
    async def account_action(actor_id: int, action: str) -> Response:
        state = holder.state
        account = require_login()
        if action not in ACCOUNT_ACTIONS:
            raise NotFound("no such action")
        target = await _other_account(state, account, actor_id, action)
        me = account.actor.id
        if action == "block":
            await blocking.block(state, account, target)
        elif action == "unblock":
            await blocking.unblock(state, account, target)
        elif action == "mute":
            await mutes.mute(
                state.db, me, target.id, notifications=True, expires_at=None, now=state.now()
            )
        else:
            await mutes.unmute(state.db, me, target.id)
        back = safe_next((await request.form).get("next"), author_view(target).profile_url)
        return see_other(back, 303)

    @app.route("/notes/<int:note_id>/report", methods=["GET", "POST"])
    async def report_post(note_id: int) -> Response:
        state = holder.state
        account = require_login()
        note = await visible_note(state, note_id)
        author = await _other_account(state, account, note.actor_id, "report")
        return await _report(state, account, author, note)

    @app.route("/accounts/<int:actor_id>/report", methods=["GET", "POST"])
    async def report_account(actor_id: int) -> Response:
        state = holder.state
        account = require_login()
        return await _report(
            state, account, await _other_account(state, account, actor_id, "report"), None
        )


async def _other_account(state: State, account: Account, actor_id: int, action: str) -> Actor:
    """The account a button acts on: one we know, not an application, not the viewer."""
    target = await actors.by_id(state.db, actor_id)
    if target is None or target.type == "Application":
        raise NotFound("no such account")
    if target.id == account.actor.id:
        raise BadRequest(f"you cannot {action} yourself")
    return target


async def _report(state: State, account: Account, author: Actor, note: Note | None) -> Response:
    """The report form (GET), or the report sent (POST): of ``author``, and ``note`` if given."""
    sent = None
    if request.method == "POST":
        form = await request.form
        comment = form.get("comment", "")
        if len(comment) > moderation.MAX_COMMENT:
            raise BadRequest(
                f"a report's comment takes {moderation.MAX_COMMENT} characters at most"
            )
        posts = [note] if note is not None else []
        forward = form.get("forward") == "1"
        sent = await moderation.report(
            state, account, author, posts, comment=comment, forward=forward
        )
    card = (await cards(state, [note], viewer()))[0] if note is not None else None
    return await render(
        state,
        "report.html",
        card=card,
        author=author_view(author),
        action=f"/notes/{note.id}/report" if note else f"/accounts/{author.id}/report",
        sent=sent,
    )
