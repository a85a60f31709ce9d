"""Times as Mastodon's entities write them: ISO 8601 in UTC with milliseconds."""

from __future__ import annotations

import time


def iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + f".{int(ts * 1000) % 1000:03d}Z"


def iso_day(ts: float | None) -> str | None:
    """Mastodon rounds an account's ``created_at`` to its day (it tells when, not how busy)."""
    if not ts:
        return None
    return time.strftime("%Y-%m-%dT00:00:00.000Z", time.gmtime(ts))
