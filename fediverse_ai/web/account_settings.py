"""A signed-in user's own account: ``/settings/profile`` and ``/settings/password``.

The profile form is also the AI actor's on ``/admin/ai-profile`` (``admin_accounts.py``): both
read it with :func:`read_profile_form` and render ``settings_profile.html``; the change itself
is ``federation.profile_edit``'s, as for the client API and the CLI.
"""

from __future__ import annotations

import asyncio
from typing import Any

from quart import Quart, Response, request

from .. import passwords
from ..accounts import set_password
from ..errors import BadRequest
from ..federation import profile_edit
from ..federation.profile_edit import MAX_FIELDS, ProfileChange
from ..models import Account, Actor
from ..sanitize import html_to_text
from ..state import State
from ..storage import actors
from ..storage.ai_replies import take_token
from .auth import LOGIN_BURST, LOGIN_REFILL_PER_SECOND, require_login, viewer
from .common import StateHolder, see_other
from .pages import render


def profile_values(actor: Actor) -> dict[str, Any]:
    """What the form shows of a stored profile: the texts as they were typed."""
    fields = profile_edit.plain_fields(actor)
    return {
        "display_name": actor.display_name,
        "bio": html_to_text(actor.summary or ""),
        "fields": (fields + [("", "")] * MAX_FIELDS)[:MAX_FIELDS],
        "locked": actor.manually_approves,
        "discoverable": actor.discoverable,
        "indexable": actor.indexable,
    }


async def read_profile_form(*, with_locked: bool) -> tuple[ProfileChange, dict[str, Any]]:
    """The change a profile form asks for, and the values to show again if it is refused.

    Unchecked boxes are not sent at all, so every flag is set from the form (the form always
    shows them all); a file input left empty sends a part without a file name.
    """
    form = await request.form
    files = await request.files
    fields = tuple(
        (form.get(f"field_name_{i}", ""), form.get(f"field_value_{i}", ""))
        for i in range(MAX_FIELDS)
    )

    def image(kind: str) -> bytes | None:
        upload = files.get(kind)
        if upload is None or not upload.filename:
            return None
        return bytes(upload.read(profile_edit.MAX_IMAGE_BYTES + 1))

    change = ProfileChange(
        display_name=form.get("display_name", ""),
        bio=form.get("bio", ""),
        fields=fields,
        locked=("locked" in form) if with_locked else None,
        discoverable="discoverable" in form,
        indexable="indexable" in form,
        avatar=image("avatar"),
        header=image("header"),
    )
    shown = {
        "display_name": change.display_name,
        "bio": change.bio,
        "fields": list(fields),
        "locked": bool(change.locked),
        "discoverable": change.discoverable,
        "indexable": change.indexable,
    }
    return change, shown


async def render_profile_form(
    state: State,
    actor: Actor,
    *,
    action: str,
    heading: str,
    with_locked: bool,
    values: dict[str, Any] | None = None,
    error: str | None = None,
) -> Response:
    return await render(
        state,
        "settings_profile.html",
        status=400 if error else 200,
        actor=actor,
        action=action,
        heading=heading,
        with_locked=with_locked,
        values=values or profile_values(actor),
        error=error,
        saved=request.args.get("saved") == "1" and not error,
        limits=profile_edit,
    )


async def save_profile_form(
    state: State, account: Account, *, action: str, heading: str, with_locked: bool
) -> Response:
    """Apply the posted form to ``account``: back to the form saying so, or the form again
    with the error and what was typed."""
    change, shown = await read_profile_form(with_locked=with_locked)
    try:
        await profile_edit.apply(state, account, change)
    except BadRequest as exc:
        return await render_profile_form(
            state,
            account.actor,
            action=action,
            heading=heading,
            with_locked=with_locked,
            values=shown,
            error=exc.message,
        )
    return see_other(f"{action}?saved=1", 303)


async def _change_password(state: State, form: Any) -> str:
    """Check the form and store the new password; returns what to tell the user."""
    account = require_login()
    # Guessing the current password from a stolen session is throttled like logins, in a
    # bucket of its own, so that the login limiter neither counts nor forgets these tries.
    allowed = await take_token(
        state.db,
        f"password:user:{account.actor.id}",
        capacity=LOGIN_BURST,
        per_second=LOGIN_REFILL_PER_SECOND,
        now=state.now(),
    )
    if not allowed:
        raise BadRequest("too many tries; wait a minute and try again")
    stored = await actors.password_hash(state.db, account.actor.id)
    current = form.get("current", "")
    if not await asyncio.to_thread(passwords.verify_password, current, stored):
        raise BadRequest("the current password is wrong")
    new = form.get("new", "")
    if new != form.get("again", ""):
        raise BadRequest("the new passwords differ")
    problem = passwords.check_strength(new)
    if problem:
        raise BadRequest(problem)
    signed_out = await set_password(
        state, account.actor.id, new, keep_session=viewer().session_hash
    )
    others = "session" if signed_out == 1 else "sessions"
    return f"Password changed; {signed_out} other {others} signed out."


async def _password_page(
    state: State, *, error: str | None = None, done: str | None = None
) -> Response:
    return await render(
        state,
        "settings_password.html",
        status=400 if error else 200,
        error=error,
        done=done,
        min_length=passwords.MIN_LENGTH,
    )


def register(app: Quart, holder: StateHolder) -> None:
    @app.get("/settings/profile")
    async def profile_settings() -> Response:
        account = require_login()
        return await render_profile_form(
            holder.state,
            account.actor,
            action="/settings/profile",
            heading="Profile",
            with_locked=True,
        )

    @app.post("/settings/profile")
    async def save_profile() -> Response:
        account = require_login()
        return await save_profile_form(
            holder.state, account, action="/settings/profile", heading="Profile", with_locked=True
        )

    @app.get("/settings/password")
    async def password_settings() -> Response:
        require_login()
        return await _password_page(holder.state)

    @app.post("/settings/password")
    async def change_password() -> Response:
        state = holder.state
        require_login()
        try:
            done = await _change_password(state, await request.form)
        except BadRequest as exc:
            return await _password_page(state, error=exc.message)
        return await _password_page(state, done=done)
