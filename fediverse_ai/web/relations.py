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
from ..storage.reactions import Report
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
        target = await actors.by_id(state.db, actor_id)
        if target is None or action not in ACCOUNT_ACTIONS or target.type == "Application":
            raise NotFound("no such account")
        if target.id == account.actor.id:
            raise BadRequest(f"you cannot {action} yourself")
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

    @app.get("/notes/<int:note_id>/report")
    async def report_form(note_id: int) -> Response:
        state = holder.state
        _, note, author = await _reportable(state, note_id)
        return await _report_page(state, note, author, sent=None)

    @app.post("/notes/<int:note_id>/report")
    async def report_submit(note_id: int) -> Response:
        state = holder.state
        account, note, author = await _reportable(state, note_id)
        form = await request.form
        comment = form.get("comment", "")
        if len(comment) > moderation.MAX_COMMENT:
            raise BadRequest(
                f"a report's comment takes {moderation.MAX_COMMENT} characters at most"
            )
        sent = await moderation.report(
            state, account, author, [note], comment=comment, forward=form.get("forward") == "1"
        )
        return await _report_page(state, note, author, sent=sent)


async def _reportable(state: State, note_id: int) -> tuple[Account, Note, Actor]:
    """The signed-in reporter, and a post they may see and did not write, with its author."""
    account = require_login()
    note = await visible_note(state, note_id)
    author = await actors.by_id(state.db, note.actor_id)
    if author is None or author.id == account.actor.id:
        raise NotFound("no such post to report")
    return account, note, author


async def _report_page(state: State, note: Note, author: Actor, *, sent: Report | None) -> Response:
    (card,) = await cards(state, [note], viewer())
    return await render(state, "report.html", card=card, author=author_view(author), sent=sent)
