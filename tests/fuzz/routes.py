"""The routes the web fuzzer exercises, as data: add a route here and it is fuzzed.

This is the hook for routes that do not exist yet: the client API (``fediverse_ai/client_api/``)
adds its routes to :data:`CLIENT_API_ROUTES` (an ``auth`` of "token" marks a bearer token, and
``test_web_fuzz.py`` then needs a "token" client beside "anon", "user" and "admin": one whose
default headers carry an ``Authorization: Bearer`` token made the way the API makes them);
:data:`ROUTES` is what the web fuzz test reads.

A path template names its parameters in braces, which the generator fills with a value of the
named kind (``{note}``: a real note id most of the time, else a bogus one). Every field maps to
the kind of value it takes; the generator sends a plausible value of that kind most of the time
and a hostile one otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Auth = Literal["anon", "user", "admin", "any", "token"]


@dataclass(frozen=True)
class Route:
    """One route: method, path template, the fields it reads, who may call it."""

    method: Literal["GET", "POST", "PUT", "DELETE"]
    path: str
    fields: dict[str, str] = field(default_factory=dict)  # name -> value kind
    files: tuple[str, ...] = ()  # multipart file fields
    auth: Auth = "any"
    weight: float = 1.0


_PAGE = {"page": "number", "before": "number"}
_PROFILE = {
    "display_name": "text",
    "bio": "text",
    "field_name_0": "text",
    "field_value_0": "text",
    "locked": "flag",
    "discoverable": "flag",
    "indexable": "flag",
}

WEB_ROUTES: tuple[Route, ...] = (
    Route("GET", "/", _PAGE),
    Route("GET", "/gallery", _PAGE),
    Route("GET", "/about"),
    Route("GET", "/tags/{tag}", _PAGE),
    Route("GET", "/@{username}", _PAGE),
    Route("GET", "/@{username}/media", _PAGE),
    Route("GET", "/@{username}/{status}"),
    Route("GET", "/users/{username}", {"page": "number"}),
    Route("GET", "/users/{username}/followers", {"page": "number"}),
    Route("GET", "/users/{username}/following", {"page": "number"}),
    Route("GET", "/users/{username}/outbox", {"page": "number", "before": "number"}),
    Route("GET", "/users/{username}/collections/featured"),
    Route("GET", "/users/{username}/statuses/{status}"),
    Route("GET", "/users/{username}/statuses/{status}/activity"),
    Route("GET", "/users/{username}/statuses/{status}/replies", {"page": "number"}),
    Route("GET", "/actor"),
    Route("GET", "/actor/{collection}", {"page": "number"}),
    Route("GET", "/notes/{note}"),
    Route("GET", "/media/{file}"),
    Route("GET", "/cache/{file}"),
    Route("GET", "/blurhash/{blurhash}.png"),
    Route("GET", "/static/{file}"),
    Route("GET", "/.well-known/webfinger", {"resource": "handle"}),
    Route("GET", "/.well-known/host-meta"),
    Route("GET", "/.well-known/nodeinfo"),
    Route("GET", "/nodeinfo/{version}"),
    Route("GET", "/login", {"next": "next"}),
    Route("POST", "/login", {"username": "username", "password": "text", "next": "next"}, weight=2),
    Route("POST", "/logout", {"next": "next"}, weight=0.3),
    Route("GET", "/home", {"before": "cursor"}, auth="user"),
    Route("GET", "/notifications", {"before": "cursor"}, auth="user"),
    Route("GET", "/compose", {"reply_to": "note_ref", "ask": "flag"}, auth="user"),
    Route(
        "POST",
        "/compose",
        {
            "text": "text",
            "summary": "text",
            "visibility": "visibility",
            "in_reply_to": "note_ref",
            "language": "language",
            "image_prompt": "prompt",
            "alt0": "text",
            "alt1": "text",
            "alt2": "text",
            "alt3": "text",
            "kept0": "cursor",  # a kept upload's id: anyone's, or none
            "kept1": "cursor",
            "drop0": "flag",
            "ask": "flag",
            "action": "compose_action",
        },
        files=("image0", "image1", "image2", "image3"),
        auth="user",
        weight=5,
    ),
    Route("GET", "/edit/{note}", auth="user"),
    Route("POST", "/edit/{note}", {"text": "text"}, auth="user", weight=2),
    Route("POST", "/notes/{note}/{note_action}", {"next": "next"}, auth="user", weight=4),
    Route("GET", "/notes/{note}/delete", {"next": "next"}, auth="user"),
    Route("POST", "/follow", {"target": "handle", "op": "follow_op", "next": "next"}, auth="user"),
    Route("POST", "/requests/{actor}/{answer}", auth="user"),
    Route("POST", "/accounts/{actor}/{relation_action}", {"next": "next"}, auth="user"),
    Route("GET", "/notes/{note}/report", auth="user"),
    Route("GET", "/accounts/{actor}/report", auth="user"),
    Route("POST", "/accounts/{actor}/report", {"comment": "text", "forward": "flag"}, auth="user"),
    Route("POST", "/notes/{note}/report", {"comment": "text", "forward": "flag"}, auth="user"),
    Route("GET", "/@{username}/remote_follow"),
    Route("POST", "/@{username}/remote_follow", {"handle": "handle"}, weight=0.5),
    Route("GET", "/authorize_interaction", {"uri": "handle"}, auth="user", weight=2),
    Route("GET", "/admin", auth="admin"),
    Route(
        "POST",
        "/admin/settings",
        {"name": "text", "description": "text", "rules": "text", "contact_email": "text"},
        auth="admin",
    ),
    # "text"/"image" would call the AI backends (an unreachable one in this test): the probe's
    # error path runs, and so does the refusal of any other kind.
    Route("POST", "/admin/test-backend", {"kind": "backend_kind"}, auth="admin", weight=0.5),
    Route("POST", "/admin/domain-blocks", {"domain": "domain", "reason": "text"}, auth="admin"),
    Route("POST", "/admin/domain-blocks/remove", {"domain": "domain"}, auth="admin"),
    Route("POST", "/admin/reports/{report}/resolve", auth="admin"),
    # Low weights: a suspended fuzz user would spend the rest of the run logged out.
    Route(
        "POST",
        "/admin/accounts/{actor}/{moderation_action}",
        {"next": "next"},
        auth="admin",
        weight=0.3,
    ),
    Route("POST", "/admin/notes/{note}/remove", auth="admin", weight=0.3),
    Route("POST", "/admin/jobs/retry", auth="admin", weight=0.3),
    Route("GET", "/settings/profile", auth="user"),
    Route("POST", "/settings/profile", _PROFILE, files=("avatar", "header"), auth="user", weight=2),
    Route("GET", "/settings/password", auth="user"),
    Route(
        "POST",
        "/settings/password",
        {"current": "text", "new": "text", "again": "text"},
        auth="user",
    ),
    Route("GET", "/signup"),
    Route(
        "POST",
        "/signup",
        {
            "username": "username",
            "email": "text",
            "password": "text",
            "again": "text",
            "reason": "text",
        },
    ),
    Route("GET", "/admin/ai-profile", auth="admin"),
    Route("POST", "/admin/ai-profile", _PROFILE, files=("avatar", "header"), auth="admin"),
    Route("GET", "/admin/signups", auth="admin"),
    Route("POST", "/admin/signups/{answer}", {"username": "username"}, auth="admin"),
    Route(
        "POST",
        "/admin/emoji",
        {"shortcode": "shortcode", "category": "text"},
        files=("image",),
        auth="admin",
    ),
    Route("POST", "/admin/emoji/remove", {"shortcode": "shortcode"}, auth="admin", weight=0.5),
    Route("GET", "/emojis/{shortcode}"),
    Route("GET", "/media/emoji/{file}"),
)

_API_PAGE = {"max_id": "cursor", "since_id": "cursor", "min_id": "cursor", "limit": "number"}

#: The client API's routes (``fediverse_ai/client_api/``): bearer-token calls, mostly.
CLIENT_API_ROUTES: tuple[Route, ...] = (
    Route("GET", "/api/v1/instance"),
    Route("GET", "/api/v2/instance"),
    Route("GET", "/api/v1/instance/peers"),
    Route("GET", "/api/v1/custom_emojis"),
    Route("GET", "/.well-known/oauth-authorization-server"),
    Route(
        "POST",
        "/api/v1/apps",
        {"client_name": "text", "redirect_uris": "redirect", "scopes": "scopes", "website": "next"},
    ),
    Route("GET", "/api/v1/apps/verify_credentials", auth="token"),
    Route(
        "GET",
        "/oauth/authorize",
        {
            "client_id": "text",
            "redirect_uri": "redirect",
            "response_type": "text",
            "scope": "scopes",
            "code_challenge": "text",
            "code_challenge_method": "text",
        },
        auth="user",
    ),
    Route(
        "POST",
        "/oauth/token",
        {
            "grant_type": "grant_type",
            "code": "text",
            "client_id": "text",
            "client_secret": "text",
            "redirect_uri": "redirect",
            "code_verifier": "text",
            "refresh_token": "text",
        },
    ),
    Route("POST", "/oauth/revoke", {"token": "text", "client_id": "text"}, weight=0.3),
    Route("GET", "/api/v1/accounts/verify_credentials", auth="token"),
    Route("GET", "/api/v1/accounts/lookup", {"acct": "handle"}, auth="token"),
    Route("GET", "/api/v1/accounts/relationships", {"id[]": "actor"}, auth="token"),
    Route("GET", "/api/v1/accounts/{actor}", auth="token"),
    Route(
        "GET",
        "/api/v1/accounts/{actor}/statuses",
        {**_API_PAGE, "exclude_replies": "flag", "only_media": "flag", "pinned": "flag"},
        auth="token",
    ),
    Route("GET", "/api/v1/accounts/{actor}/{api_account_kind}", _API_PAGE, auth="token"),
    Route("POST", "/api/v1/accounts/{actor}/{api_account_action}", auth="token"),
    Route(
        "GET", "/api/v2/search", {"q": "handle", "resolve": "flag", "type": "text"}, auth="token"
    ),
    Route(
        "POST",
        "/api/v1/statuses",
        {
            "status": "text",
            "in_reply_to_id": "note",
            "visibility": "api_visibility",
            "spoiler_text": "text",
            "sensitive": "flag",
            "language": "language",
            "media_ids[]": "note",
            "poll[options][]": "text",
            "poll[expires_in]": "number",
            "poll[multiple]": "flag",
            "quoted_status_id": "note",
        },
        auth="token",
        weight=4,
    ),
    Route(
        "PUT",
        "/api/v1/statuses/{note}",
        {
            "status": "text",
            "spoiler_text": "text",
            "sensitive": "flag",
            "language": "language",
            "media_ids[]": "note",
        },
        auth="token",
        weight=2,
    ),
    Route("DELETE", "/api/v1/statuses/{note}", auth="token", weight=0.3),
    Route("GET", "/api/v1/bookmarks", _API_PAGE, auth="token"),
    Route("GET", "/api/v1/favourites", _API_PAGE, auth="token"),
    Route("GET", "/api/v1/markers", {"timeline[]": "api_timeline"}, auth="token"),
    Route(
        "POST",
        "/api/v1/markers",
        {"home[last_read_id]": "note", "notifications[last_read_id]": "cursor"},
        auth="token",
    ),
    Route("GET", "/api/v1/conversations", _API_PAGE, auth="token"),
    Route("POST", "/api/v1/conversations/{note}/read", auth="token"),
    Route("DELETE", "/api/v1/conversations/{note}", auth="token", weight=0.3),
    Route("GET", "/api/v1/polls/{note}", auth="token"),
    Route("POST", "/api/v1/polls/{note}/votes", {"choices[]": "number"}, auth="token"),
    Route("GET", "/api/v1/statuses/{note}", auth="token"),
    Route("GET", "/api/v1/statuses/{note}/{api_who}", auth="token"),
    Route("POST", "/api/v1/statuses/{note}/{api_status_action}", auth="token", weight=2),
    Route("GET", "/api/v1/timelines/home", _API_PAGE, auth="token", weight=2),
    Route(
        "GET",
        "/api/v1/timelines/public",
        {**_API_PAGE, "local": "flag", "remote": "flag", "only_media": "flag"},
        auth="token",
    ),
    Route("GET", "/api/v1/notifications", {**_API_PAGE, "types[]": "text"}, auth="token"),
    Route("GET", "/api/v1/notifications/{note}", auth="token"),
    Route("POST", "/api/v1/notifications/{note}/dismiss", auth="token"),
    Route("POST", "/api/v1/notifications/clear", auth="token", weight=0.2),
    Route("GET", "/api/v1/{tag}", auth="token", weight=0.3),
    Route(
        "POST",
        "/api/v1/reports",
        {
            "account_id": "actor",
            "status_ids[]": "note",
            "comment": "text",
            "forward": "flag",
            "category": "text",
        },
        auth="token",
    ),
    Route("GET", "/settings/apps", auth="user"),
    Route("POST", "/settings/apps/{note}/revoke", auth="user", weight=0.3),
)

ROUTES: tuple[Route, ...] = WEB_ROUTES + CLIENT_API_ROUTES
