"""The instance as apps read it: ``/api/v1/instance``, ``/api/v2/instance``, peers and custom
emoji (the local ones, for the picker). Values come from the same settings as the About page."""

from __future__ import annotations

from typing import Any

from quart import Blueprint, Response

from .. import __version__, custom_emoji
from ..federation.publish import MAX_ATTACHMENTS, MAX_TEXT
from ..models import POLL_MAX_OPTION_CHARS, POLL_MAX_OPTIONS, POLL_MAX_SECONDS, POLL_MIN_SECONDS
from ..state import State
from ..storage import actors, client_api, notes
from ..storage import custom_emojis as stored_emoji
from ..storage.saved import MAX_PINS
from ..web.common import StateHolder, json_response
from ..web.compose import MAX_IMAGE_BYTES
from ..web.site import site_settings
from . import scopes
from .errors import RecordNotFound

#: Apps pick features by the Mastodon version they see; this is the API we follow.
MASTODON_VERSION = "4.3.0"
_IMAGE_TYPES = ["image/jpeg", "image/png", "image/gif", "image/webp"]


def version() -> str:
    return f"{MASTODON_VERSION} (compatible; fediverse-ai {__version__})"


def _configuration() -> dict[str, Any]:
    return {
        "accounts": {"max_featured_tags": 0, "max_pinned_statuses": MAX_PINS},
        "statuses": {
            "max_characters": MAX_TEXT,
            "max_media_attachments": MAX_ATTACHMENTS,
            "characters_reserved_per_url": 23,
        },
        "media_attachments": {
            "supported_mime_types": _IMAGE_TYPES,
            "image_size_limit": MAX_IMAGE_BYTES,
            "image_matrix_limit": 16_777_216,
            "video_size_limit": 0,
            "video_frame_rate_limit": 0,
            "video_matrix_limit": 0,
        },
        "polls": {
            "max_options": POLL_MAX_OPTIONS,
            "max_characters_per_option": POLL_MAX_OPTION_CHARS,
            "min_expiration": POLL_MIN_SECONDS,
            "max_expiration": POLL_MAX_SECONDS,
        },
    }


async def _rules(state: State) -> list[dict[str, str]]:
    site = await site_settings(state)
    return [{"id": str(i + 1), "text": r, "hint": ""} for i, r in enumerate(site.rules)]


def register(bp: Blueprint, holder: StateHolder) -> None:
    @bp.get("/api/v1/instance", strict_slashes=False)
    async def instance_v1() -> Response:
        state = holder.state
        site = await site_settings(state)
        base = state.config.instance.base_url
        return json_response(
            {
                "uri": site.host,
                "title": site.name,
                "short_description": site.description,
                "description": site.description,
                "email": site.contact_email,
                "version": version(),
                "urls": {"streaming_api": base.replace("http", "ws", 1)},
                "stats": {
                    "user_count": await actors.count_users(state.db),
                    "status_count": await notes.count_local(state.db),
                    "domain_count": await client_api.count_peers(state.db),
                },
                "thumbnail": None,
                "languages": ["en"],
                "registrations": site.open_registrations,
                "approval_required": state.config.instance.approval_required,
                "invites_enabled": False,
                "configuration": _configuration(),
                "contact_account": None,
                "rules": await _rules(state),
            }
        )

    @bp.get("/api/v2/instance", strict_slashes=False)
    async def instance_v2() -> Response:
        state = holder.state
        site = await site_settings(state)
        base = state.config.instance.base_url
        config = _configuration()
        config["urls"] = {"streaming": base.replace("http", "ws", 1)}
        config["translation"] = {"enabled": False}
        config["vapid"] = {"public_key": ""}
        return json_response(
            {
                "domain": site.host,
                "title": site.name,
                "version": version(),
                "source_url": "https://github.com/fediverse-ai/fediverse-ai",
                "description": site.description,
                "usage": {"users": {"active_month": await actors.count_users(state.db)}},
                "thumbnail": {"url": f"{base}/static/missing.svg"},
                "icon": [],
                "languages": ["en"],
                "configuration": config,
                "registrations": {
                    "enabled": site.open_registrations,
                    "approval_required": state.config.instance.approval_required,
                    "message": None,
                },
                "api_versions": {"mastodon": 2},
                "contact": {"email": site.contact_email, "account": None},
                "rules": await _rules(state),
                "scopes": list(scopes.SUPPORTED),
            }
        )

    @bp.get("/api/v1/instance/peers")
    async def peers() -> Response:
        return json_response(await client_api.peers(holder.state.db))

    @bp.get("/api/v1/custom_emojis")
    async def custom_emojis() -> Response:
        state = holder.state
        return json_response(
            [
                {
                    "shortcode": e.shortcode,
                    "url": custom_emoji.file_url(state, e),
                    "static_url": custom_emoji.file_url(state, e),
                    "visible_in_picker": e.visible_in_picker,
                    "category": e.category,
                }
                for e in await stored_emoji.all_emoji(state.db)
            ]
        )

    @bp.route("/api/<path:rest>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    async def unknown_endpoint(rest: str) -> Response:
        # Every other rule is more specific, so only endpoints we lack land here: apps get
        # Mastodon's JSON 404 rather than the web UI's plain-text one.
        raise RecordNotFound()
