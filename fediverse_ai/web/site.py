"""The instance's public face: config values overridden by what the admin saved."""

from __future__ import annotations

from dataclasses import dataclass

from ..state import State
from ..storage import settings

EDITABLE = ("name", "description", "rules", "contact_email")


@dataclass(frozen=True)
class SiteInfo:
    name: str
    description: str
    rules: tuple[str, ...]
    contact_email: str
    base_url: str
    host: str
    open_registrations: bool


async def site_settings(state: State) -> SiteInfo:
    inst = state.config.instance
    saved = await settings.all_settings(state.db)
    rules = saved.get("rules", "")
    return SiteInfo(
        name=saved.get("name") or inst.name,
        description=saved.get("description") or inst.description,
        rules=tuple(r.strip() for r in rules.splitlines() if r.strip()),
        contact_email=saved.get("contact_email", inst.contact_email),
        base_url=inst.base_url,
        host=inst.host,
        open_registrations=inst.open_registrations,
    )
