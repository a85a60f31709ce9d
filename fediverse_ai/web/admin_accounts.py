"""The admin's account pages: the AI actor's profile (``/admin/ai-profile``, the form of
``/settings/profile``) and sign-ups waiting for approval (``/admin/signups``)."""

from __future__ import annotations

from quart import Quart, Response, request

from .. import registrations
from ..errors import BadRequest, NotFound
from ..models import Account
from ..state import State
from ..storage import actors, signups
from .account_settings import render_profile_form, save_profile_form
from .auth import require_admin
from .common import StateHolder
from .pages import render

_AI_HEADING = "The AI actor's profile"


async def _ai(state: State) -> Account:
    ai = await actors.account_by_role(state.db, "ai")
    if ai is None:
        raise NotFound("there is no AI actor yet; run fediverse-ai init")
    return ai


async def _signups_page(
    state: State, *, error: str | None = None, done: str | None = None
) -> Response:
    return await render(
        state,
        "admin_signups.html",
        status=400 if error else 200,
        pending=await signups.listed(state.db, "pending"),
        rejected=await signups.listed(state.db, "rejected", limit=50),
        open_registrations=state.config.instance.open_registrations,
        approval_required=state.config.instance.approval_required,
        error=error,
        done=done,
    )


def register(app: Quart, holder: StateHolder) -> None:
    @app.get("/admin/ai-profile")
    async def ai_profile() -> Response:
        state = holder.state
        require_admin()
        ai = await _ai(state)
        return await render_profile_form(
            state, ai.actor, action="/admin/ai-profile", heading=_AI_HEADING, with_locked=False
        )

    @app.post("/admin/ai-profile")
    async def save_ai_profile() -> Response:
        state = holder.state
        require_admin()
        # Not locked: nobody would answer the AI's follow requests.
        return await save_profile_form(
            state,
            await _ai(state),
            action="/admin/ai-profile",
            heading=_AI_HEADING,
            with_locked=False,
        )

    @app.get("/admin/signups")
    async def signups_page() -> Response:
        require_admin()
        return await _signups_page(holder.state)

    @app.post("/admin/signups/<answer>")
    async def answer_signup(answer: str) -> Response:
        state = holder.state
        require_admin()
        if answer not in ("approve", "reject"):
            raise NotFound("no such page")
        username = (await request.form).get("username", "")
        try:
            if answer == "approve":
                account = await registrations.approve(state, username)
                done = f"@{account.actor.username} may log in now."
            else:
                await registrations.reject(state, username)
                done = f"The sign-up by {username} was rejected."
        except (BadRequest, NotFound) as exc:
            return await _signups_page(state, error=exc.message)
        return await _signups_page(state, done=done)
