"""The web UI's list of authorised apps, each with a Revoke button (a cookie page with CSRF
like the other forms). A revoked app's tokens stop working on the next request: every API
call reads its token's row."""

from __future__ import annotations

from quart import Blueprint, Response

from ..storage import oauth
from ..web.auth import require_login
from ..web.common import StateHolder, see_other
from ..web.pages import render


def register(bp: Blueprint, holder: StateHolder) -> None:
    @bp.get("/settings/apps")
    async def authorised_apps() -> Response:
        state = holder.state
        account = require_login()
        found = await oauth.authorised_apps(state.db, account.actor.id, now=state.now())
        return await render(state, "settings_apps.html", authorised=found)

    @bp.post("/settings/apps/<int:app_id>/revoke")
    async def revoke_app(app_id: int) -> Response:
        state = holder.state
        account = require_login()
        await oauth.revoke_app_for(state.db, account.actor.id, app_id, now=state.now())
        return see_other("/settings/apps", 303)
