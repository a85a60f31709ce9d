"""Times as the pages write them: relative for a week, a date after, the UTC time in full."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from fediverse_ai.web.when import ago, exact, span

NOW = datetime(2026, 12, 3, 18, 0, tzinfo=UTC).timestamp()


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (-120, "just now"),  # a remote clock ahead of ours
        (0, "just now"),
        (59, "just now"),
        (60, "1 min ago"),
        (5 * 60 + 30, "5 min ago"),
        (3599, "59 min ago"),
        (3600, "1 h ago"),
        (23 * 3600, "23 h ago"),
        (86400, "yesterday"),
        (6 * 86400, "6 days ago"),
        (7 * 86400, "26 Nov"),
        (340 * 86400, "28 Dec 2025"),
    ],
)
def test_ago(seconds: float, text: str) -> None:
    assert ago(NOW - seconds, NOW) == text


def test_exact_and_span() -> None:
    assert exact(NOW) == "2026-12-03 18:00 UTC"
    assert span(30) == "less than a minute"
    assert span(3 * 3600 + 5) == "3 hours" and span(86400) == "1 day"
