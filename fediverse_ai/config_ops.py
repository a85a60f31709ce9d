"""Operating settings of the one configuration file: who may read ``/metrics``, and how long
rows that are no longer needed are kept (``[metrics]``, ``[retention]``)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass


@dataclass(frozen=True)
class MetricsConfig:
    """Who may read ``/metrics``; everyone else gets a 404, as if there were none."""

    enabled: bool = False
    allowed_ips: tuple[str, ...] = ("127.0.0.1", "::1")
    bearer_token: str = ""


def validate_metrics(m: MetricsConfig) -> list[str]:
    problems = []
    for i, entry in enumerate(m.allowed_ips):
        try:
            ipaddress.ip_network(entry, strict=False)
        except ValueError:
            problems.append(f"metrics.allowed_ips[{i}]: {entry!r} is not an address or network")
    if m.bearer_token and len(m.bearer_token) < 16:
        problems.append("metrics.bearer_token: at least 16 characters, or empty for none")
    return problems


# --- retention: how long rows that are no longer needed are kept (storage/retention.py) ---


@dataclass(frozen=True)
class RetentionConfig:
    """Days to keep each kind of row; 0 keeps them forever. Expired sessions and idle rate
    limit buckets go at every purge, whatever these say."""

    activities_days: int = 14
    done_jobs_days: int = 1
    failed_jobs_days: int = 30
    tombstones_days: int = 90
    interval_minutes: int = 60
    remote_media_days: int = 30


# A redelivery after the activity's row is gone is processed again (an Undone Follow
# would come back), and a tombstone gone lets a late Create bring a deleted post back:
# both must outlive the senders' retries (Mastodon's last about 3 days, ours at most 3.1).
RETENTION_MINIMUM_DAYS = {"activities_days": 7, "tombstones_days": 7}


def validate_retention(r: RetentionConfig, signature_max_skew_seconds: int) -> list[str]:
    problems = []
    for name in ("activities_days", "done_jobs_days", "failed_jobs_days", "tombstones_days"):
        value, least = getattr(r, name), RETENTION_MINIMUM_DAYS.get(name, 1)
        if value != 0 and value < least:
            problems.append(f"retention.{name}: 0 (keep forever) or at least {least}")
    if r.activities_days and r.activities_days * 86400 <= signature_max_skew_seconds:
        problems.append(
            "retention.activities_days: must be longer than"
            " federation.signature_max_skew_seconds, or a replayed request is accepted again"
        )
    if r.remote_media_days < 0:
        problems.append("retention.remote_media_days: 0 (keep) or more")
    if r.interval_minutes < 0:
        problems.append("retention.interval_minutes: 0 (only `fediverse-ai purge`) or more")
    return problems
