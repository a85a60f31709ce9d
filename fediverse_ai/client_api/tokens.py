"""Who is calling: the bearer token of a request, its account, app and scopes.

Only the ``Authorization: Bearer`` header authenticates an API call. The web UI's cookie
never does (``web.auth`` does not even read it on these paths), so a page on another site
cannot make a logged-in browser call the API: the API needs no CSRF token.
"""

from __future__ import annotations

from dataclasses import dataclass

from quart import request

from ..models import Account, Actor
from ..state import State
from ..storage import actors, oauth
from . import scopes
from .errors import ApiError, Unauthorized, WrongScope


@dataclass(frozen=True)
class Grant:
    """A live token: the app, the account (None for a client_credentials token), the scopes."""

    token: oauth.Token
    app: oauth.App
    account: Account | None

    def allows(self, scope: str) -> bool:
        return scopes.covers(self.token.scopes, scope)


def bearer() -> str | None:
    header = request.headers.get("Authorization", "")
    kind, _, value = header.partition(" ")
    if kind.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


async def check_token(state: State, raw: str) -> Grant:
    """The grant of an access token, or Mastodon's 401 for an unknown, expired or revoked one."""
    if len(raw) > 200:
        raise Unauthorized()
    token = await oauth.token_by_access(state.db, raw)
    if token is None:
        raise Unauthorized()
    if token.revoked_at is not None:
        raise Unauthorized("The access token was revoked")
    if token.expires_at is not None and token.expires_at <= state.now():
        raise Unauthorized("The access token expired")
    app = await oauth.app_by_id(state.db, token.app_id)
    if app is None:
        raise Unauthorized()
    account = None
    if token.actor_id is not None:
        account = await actors.account_by_actor_id(state.db, token.actor_id)
        if account is None or account.role != "user":
            raise Unauthorized()
    return Grant(token=token, app=app, account=account)


def viewer_of(grant: Grant | None) -> Actor | None:
    """Whose view of the data a request gets: the token's user, or nobody."""
    return grant.account.actor if grant is not None and grant.account is not None else None


async def optional(state: State) -> Grant | None:
    """The grant when a token is sent (a bad one is still a 401), None without one."""
    raw = bearer()
    return None if raw is None else await check_token(state, raw)


async def app_grant(state: State, *needed: str) -> Grant:
    """A token with one of ``needed`` scopes, for an app or a user."""
    raw = bearer()
    if raw is None:
        raise Unauthorized()
    grant = await check_token(state, raw)
    if needed and not any(grant.allows(s) for s in needed):
        raise WrongScope()
    return grant


async def user(state: State, *needed: str) -> tuple[Account, Grant]:
    """A user's token with one of ``needed`` scopes (Mastodon: 422 for an app-only token)."""
    grant = await app_grant(state, *needed)
    if grant.account is None:
        raise ApiError(422, "This method requires an authenticated user")
    return grant.account, grant
