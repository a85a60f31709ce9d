"""OAuth 2 as Mastodon serves it: app registration, the authorize page (login, then consent),
the authorization code with PKCE (S256) or the out-of-band page, the token endpoint
(authorization_code, client_credentials, refresh_token), revocation and RFC 8414 metadata."""

from __future__ import annotations

import base64
import hashlib
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from quart import Blueprint, Response, request

from .. import passwords
from ..state import State
from ..storage import oauth
from ..storage.ai_replies import take_token
from ..storage.sessions import token_hash
from ..web.auth import client_address, viewer
from ..web.common import StateHolder, json_response, see_other
from ..web.pages import render
from . import params, scopes
from .errors import ApiError, Invalid, OAuthError
from .tokens import app_grant

OOB = "urn:ietf:wg:oauth:2.0:oob"
#: Doorkeeper's (Mastodon's) description of ``invalid_grant``.
BAD_GRANT = (
    "The provided authorization grant is invalid, expired, revoked, does not match the"
    " redirection URI used in the authorization request, or was issued to another client."
)
MAX_REDIRECT_URIS = 10
GRANT_TYPES = ("authorization_code", "client_credentials", "refresh_token")
# App registrations per client address: 10 at once, then one a minute.
APPS_BURST = 10.0
APPS_PER_SECOND = 1 / 60


def app_entity(app: oauth.App, secret: str | None = None) -> dict[str, Any]:
    """Mastodon's Application (with the credentials only when just created)."""
    doc: dict[str, Any] = {
        "id": str(app.id),
        "name": app.name,
        "website": app.website,
        "scopes": list(app.scopes),
        "redirect_uri": "\n".join(app.redirect_uris),
        "redirect_uris": list(app.redirect_uris),
    }
    if secret is not None:
        doc |= {"client_id": app.client_id, "client_secret": secret, "client_secret_expires_at": 0}
    return doc


def _redirect_uris(raw: Any) -> tuple[str, ...]:
    items = raw if isinstance(raw, list) else str(raw or "").split()
    uris = tuple(dict.fromkeys(str(u).strip() for u in items if str(u).strip()))
    if not uris:
        raise Invalid("Redirect URI can't be blank")
    if len(uris) > MAX_REDIRECT_URIS:
        raise Invalid(f"at most {MAX_REDIRECT_URIS} redirect URIs")
    for uri in uris:
        parts = urlsplit(uri)
        if uri != OOB and (not parts.scheme or parts.fragment or len(uri) > 2000):
            raise Invalid("Redirect URI must be an absolute URI without a fragment")
        if parts.scheme.lower() in ("javascript", "data", "vbscript", "file"):
            raise Invalid("Redirect URI must not be a script or data URI")
    return uris


def _s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii", "replace")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


async def _client(state: State, p: dict[str, Any], *, secret_required: bool) -> oauth.App:
    """The calling client, from the form fields or HTTP Basic (RFC 6749 §2.3.1)."""
    client_id = params.text(p, "client_id", limit=200)
    secret = params.text(p, "client_secret", limit=200)
    auth = request.authorization
    if auth is not None and auth.type == "basic" and auth.username:
        client_id, secret = auth.username, auth.password
    app = await oauth.app_by_client_id(state.db, client_id or "") if client_id else None
    if app is None:
        raise OAuthError("invalid_client", "Client authentication failed", 401)
    if secret is None and secret_required:
        raise OAuthError("invalid_client", "Client authentication failed", 401)
    if secret is not None and not passwords.constant_time_equal(
        token_hash(secret), app.secret_hash
    ):
        raise OAuthError("invalid_client", "Client authentication failed", 401)
    return app


def _token_response(issued: oauth.Issued) -> Response:
    return json_response(
        {
            "access_token": issued.access_token,
            "token_type": "Bearer",
            "scope": " ".join(issued.token.scopes),
            "created_at": int(issued.token.created_at),
            "refresh_token": issued.refresh_token,
        }
    )


async def _authorization_code(state: State, p: dict[str, Any]) -> oauth.Issued:
    code = params.text(p, "code", limit=200) or ""
    verifier = params.text(p, "code_verifier", limit=200)
    app = await _client(state, p, secret_required=False)
    grant = await oauth.take_code(state.db, code, now=state.now()) if code else None
    if grant is not None and grant.used_at is not None:
        await oauth.revoke_issued_for_code(state.db, code, now=state.now())
    if grant is None or grant.used_at is not None or grant.expires_at <= state.now():
        raise OAuthError("invalid_grant", BAD_GRANT)
    if grant.app_id != app.id or params.text(p, "redirect_uri", limit=2000) != grant.redirect_uri:
        raise OAuthError("invalid_grant", BAD_GRANT)
    if grant.code_challenge is not None:
        if not verifier or not passwords.constant_time_equal(_s256(verifier), grant.code_challenge):
            raise OAuthError("invalid_grant", BAD_GRANT)
    elif params.text(p, "client_secret") is None and request.authorization is None:
        # Without PKCE only the secret proves that the code reached the app it was made for.
        raise OAuthError("invalid_client", "Client authentication failed", 401)
    return await oauth.issue_token(
        state.db,
        app_id=app.id,
        actor_id=grant.actor_id,
        scopes=grant.scopes,
        now=state.now(),
        code=code,
    )


async def _refresh(state: State, p: dict[str, Any]) -> oauth.Issued:
    app = await _client(state, p, secret_required=True)
    old = await oauth.token_by_refresh(state.db, params.text(p, "refresh_token", limit=200) or "")
    if old is None or old.app_id != app.id:
        raise OAuthError("invalid_grant", "The refresh token is invalid or was revoked.")
    return await oauth.issue_token(
        state.db,
        app_id=app.id,
        actor_id=old.actor_id,
        scopes=old.scopes,
        now=state.now(),
        replaces=old.id,
    )


def register(bp: Blueprint, holder: StateHolder) -> None:
    @bp.post("/api/v1/apps")
    async def create_app() -> Response:
        state = holder.state
        # Registration needs no account, so each one is a row anybody can add: a budget per
        # client address keeps the table from being flooded.
        allowed = await take_token(
            state.db,
            f"apps:addr:{client_address(state)}",
            capacity=APPS_BURST,
            per_second=APPS_PER_SECOND,
            now=state.now(),
        )
        if not allowed:
            raise ApiError(429, "Too many requests")
        p = await params.read()
        name = (params.text(p, "client_name", limit=200) or "").strip()
        if not name:
            raise Invalid("Application name can't be blank")
        raw_uris = p.get("redirect_uris", p.get("redirect_uri"))
        website = (params.text(p, "website", limit=2000) or "").strip() or None
        if website and urlsplit(website).scheme.lower() not in ("http", "https"):
            raise Invalid("Website must be an http(s) URL")
        try:
            wanted = scopes.parse(params.text(p, "scopes", limit=2000))
        except OAuthError:
            raise Invalid("Scopes must be known scopes") from None
        app, secret = await oauth.create_app(
            state.db,
            name=name,
            website=website,
            redirect_uris=_redirect_uris(raw_uris),
            scopes=wanted,
            now=state.now(),
        )
        return json_response(app_entity(app, secret))

    @bp.get("/api/v1/apps/verify_credentials")
    async def verify_app() -> Response:
        grant = await app_grant(holder.state)
        return json_response(app_entity(grant.app))

    @bp.get("/oauth/authorize")
    async def authorize_page() -> Response:
        state = holder.state
        ask = await _check_request(state, dict(request.args))
        if isinstance(ask, Response):
            return ask
        if viewer().account is None:
            return see_other(f"/login?next={quote(request.full_path, safe='/')}")
        return await _consent_page(state, ask)

    @bp.post("/oauth/authorize")
    async def authorize_answer() -> Response:
        state = holder.state
        form = dict((await request.form).items())
        ask = await _check_request(state, form)
        if isinstance(ask, Response):
            return ask
        account = viewer().account
        if account is None:
            return see_other(
                f"/login?next={quote('/oauth/authorize?' + urlencode(ask.query), safe='/')}"
            )
        if form.get("decision") != "approve":
            return _back(state, ask, {"error": "access_denied"})
        code = await oauth.create_code(
            state.db,
            app_id=ask.app.id,
            actor_id=account.actor.id,
            scopes=ask.scopes,
            redirect_uri=ask.redirect_uri,
            code_challenge=ask.code_challenge,
            now=state.now(),
        )
        if ask.redirect_uri == OOB:
            return await render(state, "oauth_code.html", app=ask.app, code=code)
        return _back(state, ask, {"code": code})

    @bp.post("/oauth/token")
    async def token() -> Response:
        state = holder.state
        p = await params.read()
        grant_type = params.text(p, "grant_type", limit=100)
        if grant_type == "authorization_code":
            issued = await _authorization_code(state, p)
        elif grant_type == "refresh_token":
            issued = await _refresh(state, p)
        elif grant_type == "client_credentials":
            app = await _client(state, p, secret_required=True)
            wanted = scopes.parse(params.text(p, "scope", limit=2000))
            if not scopes.within(wanted, app.scopes):
                raise OAuthError(
                    "invalid_scope", "The requested scope is invalid, unknown, or malformed."
                )
            issued = await oauth.issue_token(
                state.db, app_id=app.id, actor_id=None, scopes=wanted, now=state.now()
            )
        else:
            raise OAuthError(
                "unsupported_grant_type",
                "The authorization grant type is not supported by the authorization server.",
            )
        return _token_response(issued)

    @bp.post("/oauth/revoke")
    async def revoke() -> Response:
        state = holder.state
        p = await params.read()
        app = await _client(state, p, secret_required=True)
        raw = params.text(p, "token", limit=200) or ""
        found = await oauth.token_by_access(state.db, raw) or await oauth.token_by_refresh(
            state.db, raw
        )
        # RFC 7009: an unknown token is not an error (the client wanted it gone; it is).
        if found is not None and found.app_id == app.id:
            await oauth.revoke_token(state.db, found.id, now=state.now())
        return json_response({})

    @bp.get("/.well-known/oauth-authorization-server")
    async def metadata() -> Response:
        base = holder.state.config.instance.base_url
        return json_response(
            {
                "issuer": f"{base}/",
                "service_documentation": "https://docs.joinmastodon.org/",
                "authorization_endpoint": f"{base}/oauth/authorize",
                "token_endpoint": f"{base}/oauth/token",
                "revocation_endpoint": f"{base}/oauth/revoke",
                "app_registration_endpoint": f"{base}/api/v1/apps",
                "scopes_supported": list(scopes.SUPPORTED),
                "response_types_supported": ["code"],
                "response_modes_supported": ["query", "fragment", "form_post"],
                "code_challenge_methods_supported": ["S256"],
                "grant_types_supported": list(GRANT_TYPES),
                "token_endpoint_auth_methods_supported": [
                    "client_secret_basic",
                    "client_secret_post",
                ],
            }
        )


class _Ask:
    """A checked authorization request: app, redirect, scopes, state and PKCE challenge."""

    def __init__(
        self, app: oauth.App, redirect_uri: str, wanted: tuple[str, ...], raw: dict[str, Any]
    ) -> None:
        self.app = app
        self.redirect_uri = redirect_uri
        self.scopes = wanted
        self.state = str(raw.get("state") or "")[:1000]
        self.code_challenge = str(raw.get("code_challenge") or "") or None
        self.query = {
            "client_id": app.client_id,
            "redirect_uri": redirect_uri,
            "response_type": "code",
            "scope": " ".join(wanted),
            "state": self.state,
            "code_challenge": self.code_challenge or "",
            "code_challenge_method": "S256" if self.code_challenge else "",
        }


async def _check_request(state: State, raw: dict[str, Any]) -> _Ask | Response:
    """RFC 6749 §4.1.2.1: an unknown client or redirect URI is shown here, never redirected
    to; every other problem goes back to the (registered) redirect URI."""
    client_id = str(raw.get("client_id") or "")[:200]
    app = await oauth.app_by_client_id(state.db, client_id) if client_id else None
    if app is None:
        raise ApiError(400, "This app is not registered here (unknown client_id).")
    redirect_uri = str(raw.get("redirect_uri") or "")
    if not redirect_uri and len(app.redirect_uris) == 1:
        redirect_uri = app.redirect_uris[0]
    if redirect_uri not in app.redirect_uris:
        raise ApiError(400, "The redirect URI is not one this app registered.")
    bare = _Ask(app, redirect_uri, (), raw)
    if raw.get("response_type") != "code":
        return _back(state, bare, {"error": "unsupported_response_type"})
    challenge = str(raw.get("code_challenge") or "")
    method = str(raw.get("code_challenge_method") or ("plain" if challenge else ""))
    if challenge and (method != "S256" or not 43 <= len(challenge) <= 128):
        return _back(
            state,
            bare,
            {
                "error": "invalid_request",
                "error_description": "PKCE needs code_challenge_method=S256",
            },
        )
    try:
        wanted = scopes.parse(str(raw.get("scope") or ""))
    except OAuthError:
        return _back(state, bare, {"error": "invalid_scope"})
    if not scopes.within(wanted, app.scopes):
        return _back(state, bare, {"error": "invalid_scope"})
    return _Ask(app, redirect_uri, wanted, raw)


def _back(state: State, ask: _Ask, values: dict[str, str]) -> Response:
    if ask.state:
        values = {**values, "state": ask.state}
    if ask.redirect_uri == OOB:
        raise ApiError(400, f"The app's request was refused: {values.get('error', 'error')}.")
    sep = "&" if urlsplit(ask.redirect_uri).query else "?"
    return see_other(f"{ask.redirect_uri}{sep}{urlencode(values)}", 302)


async def _consent_page(state: State, ask: _Ask) -> Response:
    resp = await render(
        state,
        "oauth_authorize.html",
        app=ask.app,
        scopes=[(s, scopes.describe(s)) for s in ask.scopes],
        fields=ask.query,
        oob=ask.redirect_uri == OOB,
    )
    scheme = urlsplit(ask.redirect_uri).scheme.lower()
    # The answer redirects to the app, and browsers hold that redirect to the page's
    # form-action: an app's own scheme (tusky://, ivory://) must be allowed on this page.
    extra = "" if scheme in ("http", "https", "urn") else f" {scheme}:"
    resp.headers["Content-Security-Policy"] = (
        "default-src 'none'; img-src 'self' https: http:; style-src 'self';"
        f" form-action 'self' https: http:{extra}; frame-ancestors 'none'; base-uri 'none'"
    )
    return resp
