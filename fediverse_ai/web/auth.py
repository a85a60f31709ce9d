"""Browser sessions, login/logout and CSRF protection for every form.

The session cookie carries a random token (the database keeps its SHA-256). Each session has its
own CSRF token; anonymous forms (login, remote follow) use a double-submit cookie. POSTs are also
refused when their ``Origin`` header names another site. Whatever can be checked without the
body is checked before the form is read; a body too large for a visitor without a session was
never read at all (``body_gate.py``).
"""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass
from urllib.parse import urlsplit

from quart import Quart, Response, g, render_template, request
from werkzeug.exceptions import LengthRequired

from .. import passwords
from ..errors import Forbidden, LoginFailed, LoginRequired, PayloadTooLarge, TooManyRequests
from ..models import Account
from ..state import State
from ..storage import actors, moderation, sessions, signups
from ..storage.ai_replies import take_token
from .body_gate import ANON_BODY_MAX, REFUSED_KEY
from .common import SESSION_COOKIE, StateHolder, see_other

ANON_CSRF_COOKIE = "fa_csrf"
# Login attempts: 10 per client address and 10 per username, refilled at one per 30 s.
LOGIN_BURST = 10.0
LOGIN_REFILL_PER_SECOND = 1 / 30
# Routes that take signed ActivityPub POSTs, not browser forms.
CSRF_EXEMPT_ENDPOINTS: frozenset[str] = frozenset()  # the inboxes are served ahead of Quart
_ANON_KB = ANON_BODY_MAX // 1024
# The client API (``client_api``) authenticates by bearer token alone: the session cookie is
# not read there, so it neither logs anyone in nor needs a CSRF token.
BEARER_PATHS = ("/api/", "/oauth/token", "/oauth/revoke")


@dataclass(frozen=True)
class Viewer:
    """Who is looking at the page: an account or nobody, with the CSRF token for forms."""

    account: Account | None
    csrf_token: str
    session_hash: str | None = None

    @property
    def actor_id(self) -> int | None:
        return self.account.actor.id if self.account else None

    @property
    def actor_uri(self) -> str | None:
        return self.account.actor.uri if self.account else None

    @property
    def is_admin(self) -> bool:
        return bool(self.account and self.account.is_admin)


def viewer() -> Viewer:
    v: Viewer | None = getattr(g, "viewer", None)
    return v if v is not None else Viewer(account=None, csrf_token="")


def require_login() -> Account:
    account = viewer().account
    if account is None:
        raise LoginRequired("log in first")
    return account


def require_admin() -> Account:
    account = require_login()
    if not account.is_admin:
        raise Forbidden("only admins can do this")
    return account


def client_address(state: State) -> str:
    if state.config.server.trusted_proxy:
        forwarded = request.headers.get("X-Forwarded-For", "")
        if forwarded:
            return forwarded.split(",")[-1].strip()
    return request.remote_addr or "unknown"


def safe_next(target: str | None, default: str = "/") -> str:
    """Only local paths: an open redirect would turn our login page into a phishing tool.

    Control characters (NUL, CR, LF) and lone surrogates are refused: no page is there, and
    such a target is an attack, not a place to go back to (``see_other`` encodes the rest).
    """
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    if any(ord(c) < 0x20 or ord(c) == 0x7F or 0xD800 <= ord(c) < 0xE000 for c in target):
        return default  # control characters, and lone surrogates (no UTF-8 for them)
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return default
    return target


def _cookie_secure(state: State) -> bool:
    return state.config.instance.scheme == "https"


async def login(state: State, username: str, password: str) -> Account:
    """Check the credentials, rate-limited per address and per username."""
    address = client_address(state)
    now = state.now()
    for key in (f"login:addr:{address}", f"login:user:{username.lower()[:64]}"):
        allowed = await take_token(
            state.db, key, capacity=LOGIN_BURST, per_second=LOGIN_REFILL_PER_SECOND, now=now
        )
        if not allowed:
            raise TooManyRequests("too many login attempts; wait a minute and try again")
    name = username.strip().lstrip("@").lower()
    account = await actors.account_by_username(state.db, name)
    stored = await actors.password_hash(state.db, account.actor.id) if account else None
    signup = await signups.by_username(state.db, name) if account is None else None
    if signup is not None:
        stored = signup.password_hash
    ok = await asyncio.to_thread(passwords.verify_password, password, stored)
    if signup is not None and ok:  # only who chose the password learns where it stands
        if signup.state == "rejected":
            raise LoginFailed("an admin did not approve this sign-up")
        raise LoginFailed("your sign-up is waiting for an admin's approval; try again later")
    if account is None or not ok or account.role != "user":
        raise LoginFailed("wrong username or password")
    if await moderation.is_suspended(state.db, account.actor.id):
        raise LoginFailed("this account is suspended")
    if stored and passwords.needs_rehash(stored):
        new_hash = await asyncio.to_thread(passwords.hash_password, password)
        await actors.set_password_hash(state.db, account.actor.id, new_hash)
    return account


async def start_session(state: State, account: Account, resp: Response) -> None:
    token = secrets.token_urlsafe(32)
    now = state.now()
    lifetime = state.config.web.session_days * 24 * 3600
    await sessions.create(
        state.db,
        token_hash=sessions.token_hash(token),
        actor_id=account.actor.id,
        csrf_token=secrets.token_urlsafe(24),
        now=now,
        expires_at=now + lifetime,
        user_agent=request.headers.get("User-Agent", ""),
    )
    resp.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=lifetime,
        httponly=True,
        secure=_cookie_secure(state),
        samesite="Lax",
        path="/",
    )


def _check_origin(state: State) -> None:
    origin = request.headers.get("Origin")
    if origin is None:  # not sent by every client; the CSRF token still has to match
        return
    if origin.rstrip("/") != state.config.instance.base_url:
        raise Forbidden("this form was sent from another site")


def register(app: Quart, holder: StateHolder) -> None:
    @app.before_request
    async def load_viewer() -> None:
        if request.endpoint in CSRF_EXEMPT_ENDPOINTS or request.endpoint == "media_file":
            return  # the federation hot path reads no cookies
        if request.path.startswith(BEARER_PATHS):
            return
        state = holder.state
        token = request.cookies.get(SESSION_COOKIE)
        account = None
        csrf = ""
        session_hash = None
        g.new_anon_csrf = False
        if token:
            row = await sessions.get(state.db, sessions.token_hash(token), now=state.now())
            if row is not None:
                account = await actors.account_by_actor_id(state.db, row.actor_id)
                csrf = row.csrf_token
                session_hash = sessions.token_hash(token)
        if account is None:
            csrf = request.cookies.get(ANON_CSRF_COOKIE, "")
            g.new_anon_csrf = not csrf or len(csrf) > 64
            if g.new_anon_csrf:
                csrf = secrets.token_urlsafe(24)
        g.viewer = Viewer(account=account, csrf_token=csrf, session_hash=session_hash)
        refused = request.scope.get(REFUSED_KEY)
        if refused == "no length":
            raise LengthRequired("log in first, or send the form with its Content-Length")
        if refused is not None:
            raise PayloadTooLarge(f"log in first: without a session a form takes {_ANON_KB} KB")
        if request.method == "POST" and request.endpoint not in CSRF_EXEMPT_ENDPOINTS:
            # Everything that needs no body is checked before the form is read.
            _check_origin(state)
            if g.new_anon_csrf and account is None:  # no token to compare the form's with
                raise Forbidden("the form expired; reload the page and try again")
            form = await request.form
            sent = form.get("csrf", "")
            if not sent or not passwords.constant_time_equal(sent, csrf):
                raise Forbidden("the form expired; reload the page and try again")

    @app.after_request
    async def set_anon_csrf(resp: Response) -> Response:
        if getattr(g, "new_anon_csrf", False) and viewer().account is None:
            resp.set_cookie(
                ANON_CSRF_COOKIE,
                viewer().csrf_token,
                httponly=True,
                secure=_cookie_secure(holder.state),
                samesite="Lax",
                path="/",
            )
        return resp

    @app.get("/login")
    async def login_form() -> str:
        return await render_template(
            "login.html",
            **await page_context(holder.state),
            next=safe_next(request.args.get("next")),
            error=None,
        )

    @app.post("/login")
    async def login_submit() -> Response | tuple[str, int]:
        state = holder.state
        form = await request.form
        target = safe_next(form.get("next"))
        try:
            account = await login(state, form.get("username", ""), form.get("password", ""))
        except (LoginFailed, TooManyRequests) as exc:
            html = await render_template(
                "login.html",
                **await page_context(state),
                next=target,
                error=exc.message,
                username=form.get("username", ""),
            )
            return html, exc.status
        resp = see_other(target, 303)
        await start_session(state, account, resp)
        resp.delete_cookie(ANON_CSRF_COOKIE, path="/")
        return resp

    @app.post("/logout")
    async def logout() -> Response:
        v = viewer()
        if v.session_hash:
            await sessions.delete(holder.state.db, v.session_hash)
        resp = see_other("/", 303)
        resp.delete_cookie(SESSION_COOKIE, path="/")
        return resp


async def page_context(state: State) -> dict[str, object]:
    """What every page template needs: the instance, the viewer and the CSRF token."""
    from .site import site_settings

    return {
        "instance": await site_settings(state),
        "viewer": viewer(),
        "csrf": viewer().csrf_token,
    }
