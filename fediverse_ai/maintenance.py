"""Periodic upkeep run as a durable job: the retention purge.

Every worker process offers the job once per ``retention.interval_minutes`` under a
dedupe key naming the period, so however many workers run, one purge runs per period;
it survives a restart like any job, and running it twice is harmless.
"""

from __future__ import annotations

import logging
from typing import Any

from . import media_cache
from .state import State
from .storage import jobs, retention

log = logging.getLogger(__name__)
PURGE = "purge"


def purge_period(state: State) -> int | None:
    """The number of the current purge period, or None when automatic purges are off."""
    interval = state.config.retention.interval_minutes * 60
    return int(state.now() // interval) if interval else None


async def offer_purge(state: State) -> bool:
    """Queue this period's purge unless some worker already did; True when queued now."""
    period = purge_period(state)
    if period is None:
        return False
    return await jobs.enqueue(
        state.db, PURGE, {"period": period}, now=state.now(), dedupe_key=f"{PURGE}:{period}"
    )


async def purge(state: State, payload: dict[str, Any]) -> None:
    """Worker entry: delete what the retention policy no longer keeps."""
    removed = await retention.purge(state.db, state.config.retention, now=state.now())
    days = state.config.retention.remote_media_days
    if days:
        removed["remote media files"] = (await media_cache.prune(state, days=days))[0]
    if any(removed.values()):
        log.info("purged %s", ", ".join(f"{n} {name}" for name, n in removed.items() if n))
