"""A user's own data on the web: ``/settings/export`` (archives) and ``/settings/delete``.

Both are plain forms (CSRF-checked in auth.py). An archive is built by a job and offered for
download to its owner only, under an unguessable name; deleting the account asks for the
password again, as a stolen session must not be enough to destroy it.
"""

from __future__ import annotations

import secrets

from quart import Quart, Response, request, send_file

from ..errors import LoginFailed, NotFound
from ..storage import account_data
from ..userdata.deletion import delete_account, export_path
from .auth import login, require_login
from .common import SESSION_COOKIE, StateHolder, see_other
from .pages import render


def register(app: Quart, holder: StateHolder) -> None:
    @app.get("/settings/export")
    async def export_page() -> Response:
        state = holder.state
        account = require_login()
        found = await account_data.exports(state.db, account.actor.id)
        return await render(state, "settings_export.html", exports=found)

    @app.post("/settings/export")
    async def export_request() -> Response:
        state = holder.state
        account = require_login()
        token = secrets.token_hex(16)
        if await account_data.add_export(state.db, account.actor.id, token, now=state.now()):
            state.work_queued(1)
        return see_other("/settings/export", 303)

    @app.get("/settings/export/<token>.zip")
    async def export_download(token: str) -> Response:
        state = holder.state
        account = require_login()
        owner = await account_data.export_owner(state.db, token) if token.isalnum() else None
        path = export_path(state, token)
        # Someone else's archive is as absent as one that never existed.
        if owner != account.actor.id or not path.is_file():
            raise NotFound("no such archive")
        # Streamed from the file: an archive with years of pictures need not fit in memory.
        resp = await send_file(
            path,
            mimetype="application/zip",
            as_attachment=True,
            attachment_filename=f"{account.actor.username}-archive.zip",
        )
        resp.headers["Cache-Control"] = "private, no-store"
        return resp

    @app.get("/settings/delete")
    async def delete_page() -> Response:
        state = holder.state
        require_login()
        grace = state.config.accounts.deletion_grace_days
        return await render(state, "settings_delete.html", grace=grace, problem=None)

    @app.post("/settings/delete")
    async def delete_request() -> Response:
        state = holder.state
        account = require_login()
        form = await request.form
        try:
            await login(state, account.actor.username, form.get("password", "")[:1024])
        except LoginFailed:
            grace = state.config.accounts.deletion_grace_days
            return await render(
                state, "settings_delete.html", status=403, grace=grace, problem="Wrong password."
            )
        await delete_account(state, account)
        resp = see_other("/", 303)
        resp.delete_cookie(SESSION_COOKIE, path="/")
        return resp
