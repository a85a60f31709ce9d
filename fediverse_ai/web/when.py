"""Times as people read them: "5 min ago" in the page, the exact time in its ``title`` (UTC
from the server; ``/static/time.js`` puts the reader's local time there when script runs)."""

from __future__ import annotations

from datetime import UTC, datetime

_UNITS = ((86400, "day"), (3600, "hour"), (60, "minute"))


def span(seconds: float) -> str:
    """A duration in its largest whole unit: "3 hours", "1 day"."""
    for size, unit in _UNITS:
        if seconds >= size:
            n = int(seconds // size)
            return f"{n} {unit}{'' if n == 1 else 's'}"
    return "less than a minute"


def ago(ts: float, now: float) -> str:
    """Relative for the last week, as Mastodon shows it; a date beyond, where "40 days ago"
    says less than the date. A time ahead of ours (a remote clock) is "just now"."""
    seconds = now - ts
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{int(seconds // 60)} min ago"
    if seconds < 86400:
        return f"{int(seconds // 3600)} h ago"
    if seconds < 7 * 86400:
        days = int(seconds // 86400)
        return "yesterday" if days == 1 else f"{days} days ago"
    when = datetime.fromtimestamp(ts, UTC)
    this_year = datetime.fromtimestamp(now, UTC).year == when.year
    return f"{when.day} {when:%b}" + ("" if this_year else f" {when.year}")


def exact(ts: float) -> str:
    """The full time for the tooltip, in UTC (the server does not know the reader's zone)."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M UTC")
