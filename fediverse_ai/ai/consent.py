"""Consent: accounts that say #nobot, #noai or #nollm in their profile are left alone."""

from __future__ import annotations

import re
from collections.abc import Iterable

_OPT_OUT = re.compile(r"#(?:nobot|noai|nollm)\b", re.IGNORECASE)


def opted_out(summary: str, fields: Iterable[tuple[str, str]] = ()) -> bool:
    """True when the profile text or a profile field carries an opt-out hashtag."""
    if _OPT_OUT.search(summary or ""):
        return True
    return any(_OPT_OUT.search(f"{name} {value}") for name, value in fields)
