"""The Mastodon client API (issue 14): OAuth 2 and the REST endpoints apps such as Tusky,
Ivory, Elk and toot use, beside the web UI and over the same domain code.

Requests under ``/api/`` and to the token endpoints are authenticated by bearer tokens only,
never by the web UI's session cookie (``web.auth.BEARER_PATHS``): that is what Mastodon does,
and it means the API needs no CSRF protection. The authorize and settings pages are ordinary
cookie pages with the web UI's CSRF checks.
"""

from __future__ import annotations

from quart import Blueprint

from ..web.common import StateHolder


def blueprint(holder: StateHolder) -> Blueprint:
    """Every route of the client API, for ``create_app`` to register in one line."""
    from . import (
        accounts,
        apps_page,
        conversations,
        edits,
        errors,
        instance,
        markers,
        media,
        notifications,
        oauth,
        polls,
        profile,
        rate_limits,
        relations,
        reports,
        saved,
        search,
        statuses,
        stream_routes,
        timelines,
    )

    bp = Blueprint("client_api", __name__)
    errors.register(bp, holder)
    rate_limits.register(bp, holder)
    for module in (
        oauth,
        profile,
        relations,
        reports,
        search,
        apps_page,
        instance,
        accounts,
        media,
        edits,
        saved,
        statuses,
        timelines,
        notifications,
        markers,
        conversations,
        polls,
        stream_routes,
    ):
        module.register(bp, holder)
    return bp
