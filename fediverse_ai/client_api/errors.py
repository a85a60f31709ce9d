"""Errors as Mastodon sends them: ``{"error": "..."}`` with its status codes, and CORS.

Mastodon's apps show the ``error`` string to the user, and some read the status alone (401
means "log in again"), so both follow Mastodon: 401 for a missing, unknown, expired or revoked
token, 403 for a scope the token lacks, 404 for an unknown id, 422 for invalid parameters.
"""

from __future__ import annotations

import logging
from urllib.parse import quote

from quart import Blueprint, Response, request
from werkzeug.exceptions import HTTPException

from ..errors import FediverseError, LoginRequired
from ..web.common import StateHolder, json_response, see_other
from ..web.pages import render

log = logging.getLogger(__name__)

#: Paths answered with JSON errors and the CORS headers browser clients (Elk, Phanpy) need.
API_PREFIXES = ("/api/", "/oauth/token", "/oauth/revoke", "/.well-known/oauth-authorization")


class ApiError(FediverseError):
    """An error with the status and body Mastodon's API gives for it."""

    def __init__(self, status: int, message: str, *, oauth_error: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.oauth_error = oauth_error


class Unauthorized(ApiError):
    def __init__(self, message: str = "The access token is invalid") -> None:
        super().__init__(401, message)


class WrongScope(ApiError):
    def __init__(self) -> None:
        super().__init__(403, "This action is outside the authorized scopes")


class RecordNotFound(ApiError):
    def __init__(self) -> None:
        super().__init__(404, "Record not found")


class Invalid(ApiError):
    def __init__(self, message: str) -> None:
        super().__init__(422, f"Validation failed: {message}")


class OAuthError(ApiError):
    """RFC 6749 §5.2: ``{"error": code, "error_description": text}``."""

    def __init__(self, code: str, description: str, status: int = 400) -> None:
        super().__init__(status, description, oauth_error=code)


def error_response(status: int, message: str, *, oauth_error: str | None = None) -> Response:
    if oauth_error is not None:
        body = {"error": oauth_error, "error_description": message}
    else:
        body = {"error": message}
    resp = json_response(body, status=status)
    if status == 401:
        code = oauth_error or "invalid_token"
        resp.headers["WWW-Authenticate"] = (
            f'Bearer realm="fediverse-ai", error="{code}", error_description="{message}"'
        )
    return resp


def is_api_path(path: str) -> bool:
    return path.startswith(API_PREFIXES)


def register(bp: Blueprint, holder: StateHolder) -> None:
    @bp.errorhandler(FediverseError)
    async def api_error(exc: FediverseError) -> Response:
        if not is_api_path(request.path):  # the authorize and settings pages
            if isinstance(exc, LoginRequired) and request.method == "GET":
                return see_other(f"/login?next={quote(request.path, safe='/')}")
            return await _page(holder, exc.status, exc.message)
        if exc.status >= 500:
            log.error("%s %s failed: %s", request.method, request.path, exc.message)
        oauth_error = exc.oauth_error if isinstance(exc, ApiError) else None
        return error_response(exc.status, exc.message, oauth_error=oauth_error)

    @bp.errorhandler(HTTPException)
    async def http_error(exc: HTTPException) -> Response:
        if not is_api_path(request.path):
            return await _page(holder, exc.code or 500, exc.description or exc.name)
        return error_response(exc.code or 500, exc.description or exc.name)

    @bp.after_request
    async def cors(resp: Response) -> Response:
        # Mastodon's rack-cors rule: any origin, no cookies. Bearer tokens are not sent by
        # browsers on their own, so a hostile page gains nothing from reading the answer.
        if is_api_path(request.path):
            resp.headers["Access-Control-Allow-Origin"] = "*"
            resp.headers["Access-Control-Expose-Headers"] = (
                "Link, X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset, Idempotency-Key"
            )
            if request.method == "OPTIONS":
                resp.headers["Access-Control-Allow-Methods"] = (
                    "POST, PUT, DELETE, GET, PATCH, OPTIONS"
                )
                resp.headers["Access-Control-Allow-Headers"] = request.headers.get(
                    "Access-Control-Request-Headers", "Authorization, Content-Type, Idempotency-Key"
                )[:500]
                resp.headers["Access-Control-Max-Age"] = "1728000"
        return resp


async def _page(holder: StateHolder, status: int, message: str) -> Response:
    """The web UI's error page, for the browser pages this package serves."""
    return await render(holder.state, "error.html", status=status, code=status, message=message)
