"""A local account's profile as the client API's ``update_credentials`` edits it."""

from __future__ import annotations

import json
from dataclasses import dataclass

from .db import Database


@dataclass(frozen=True)
class Profile:
    """Everything ``update_credentials`` may change; the caller merged in the old values."""

    display_name: str
    summary: str  # HTML, rendered from the plain text the user typed
    manually_approves: bool
    actor_type: str  # "Person", or "Service" for a bot
    discoverable: bool
    indexable: bool
    fields: tuple[tuple[str, str], ...]
    icon_url: str | None
    image_url: str | None


async def save(db: Database, actor_id: int, profile: Profile, *, now: float) -> None:
    await db.execute(
        "UPDATE actors SET display_name = ?, summary = ?, manually_approves = ?, type = ?,"
        " discoverable = ?, indexable = ?, fields_json = ?, icon_url = ?, image_url = ?,"
        " updated_at = ? WHERE id = ? AND local = 1",
        (
            profile.display_name,
            profile.summary,
            int(profile.manually_approves),
            profile.actor_type,
            int(profile.discoverable),
            int(profile.indexable),
            json.dumps([list(f) for f in profile.fields]),
            profile.icon_url,
            profile.image_url,
            now,
            actor_id,
        ),
    )
