"""``/signup``: visitors ask for an account when ``instance.open_registrations`` is on.

Without a session the form is small (``body_gate``) and guarded by the double-submit CSRF
cookie, as the login form is. Sign-ups are throttled per client address with the login
limiter's buckets (their own keys), since each costs a password hash and, without approval,
a key pair.
"""

from __future__ import annotations

from quart import Quart, Response, request

from .. import registrations
from ..errors import BadRequest, NotFound, TooManyRequests
from ..passwords import MIN_LENGTH
from ..state import State
from ..storage.ai_replies import take_token
from .auth import ANON_CSRF_COOKIE, client_address, start_session, viewer
from .common import StateHolder, see_other
from .pages import render

# 3 sign-ups per address, then one every 20 minutes.
SIGNUP_BURST = 3.0
SIGNUP_REFILL_PER_SECOND = 1 / 1200


def _open(state: State) -> None:
    if not state.config.instance.open_registrations:
        raise NotFound("sign-ups are closed on this server; ask its admin for an account")


async def _page(
    state: State,
    *,
    values: dict[str, str] | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    return await render(
        state,
        "signup.html",
        status=status,
        values=values or {},
        error=error,
        done=False,
        approval=state.config.instance.approval_required,
        min_length=MIN_LENGTH,
        max_reason=registrations.MAX_REASON,
    )


def register(app: Quart, holder: StateHolder) -> None:
    @app.get("/signup")
    async def signup_form() -> Response:
        state = holder.state
        _open(state)
        if viewer().account is not None:
            return see_other("/home", 303)
        return await _page(state)

    @app.post("/signup")
    async def signup_submit() -> Response:
        state = holder.state
        _open(state)
        form = await request.form
        values = {k: form.get(k, "")[:2000] for k in ("username", "email", "reason")}
        try:
            allowed = await take_token(
                state.db,
                f"signup:addr:{client_address(state)}",
                capacity=SIGNUP_BURST,
                per_second=SIGNUP_REFILL_PER_SECOND,
                now=state.now(),
            )
            if not allowed:
                raise TooManyRequests("too many sign-ups from your address; try again later")
            if form.get("password", "") != form.get("again", ""):
                raise BadRequest("the passwords differ")
            account = await registrations.sign_up(
                state,
                registrations.SignupForm(password=form.get("password", ""), **values),
                address=client_address(state),
            )
        except (BadRequest, TooManyRequests) as exc:
            return await _page(state, values=values, error=exc.message, status=exc.status)
        if account is None:
            return await render(
                state, "signup.html", status=202, done=True, values=values, error=None
            )
        resp = see_other("/home", 303)
        await start_session(state, account, resp)
        resp.delete_cookie(ANON_CSRF_COOKIE, path="/")
        return resp
