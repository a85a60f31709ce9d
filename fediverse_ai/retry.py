"""Delivery retry policy, modelled on Mastodon's (interop checklist §7).

Everything here is pure: time and randomness are arguments, so the worker decides *when*
and tests can pin both. The worker stores ``attempts`` and ``run_after`` on the job row
and asks this module for the next ``run_after``.

Why this shape:

* 16 attempts spread over roughly 2.5-3 days ride out a peer's weekend outage without
  hammering it, and match what other servers expect from Mastodon-like senders.
* The jitter is proportional to the delay, so deliveries that failed together (a peer
  went down) do not all come back in the same second when it recovers.
* A peer's own ``Retry-After`` is honoured, but capped at a day so that a hostile or
  buggy header cannot park a job forever.
* A per-inbox circuit breaker stops us from queueing a fresh request per activity at an
  inbox that is known to be down.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Literal

__all__ = [
    "MAX_ATTEMPTS",
    "MAX_RETRY_AFTER",
    "CircuitState",
    "backoff",
    "circuit_after_failure",
    "circuit_after_success",
    "circuit_is_open",
    "classify_status",
    "next_run",
    "parse_retry_after",
]

MAX_ATTEMPTS = 16
"""Attempts in all, the first included; after the 16th failure the delivery is dropped."""

MAX_RETRY_AFTER = timedelta(days=1)
"""The longest ``Retry-After`` we honour."""

_BASE_DELAY_S = 15


def backoff(attempt: int, *, jitter: float = 0.0) -> timedelta | None:
    """Delay before the next attempt, or None when no attempt is left.

    ``attempt`` is how many attempts have been made so far (1 after the first failure).
    The delay is ``attempt**4 + 15`` seconds plus up to half that again as jitter:
    ``jitter`` is a number in [0, 1) that the caller draws (e.g. ``random.random()``),
    which keeps this function pure. Over all 15 retries that adds up to 2.07 days with no
    jitter, about 2.6 days on average and at most 3.1 days.
    """
    if attempt < 1:
        raise ValueError("attempt counts attempts already made and starts at 1")
    if not 0.0 <= jitter < 1.0:
        raise ValueError("jitter must be in [0, 1)")
    if attempt >= MAX_ATTEMPTS:
        return None
    growth = attempt**4
    return timedelta(seconds=growth + _BASE_DELAY_S + jitter * growth / 2)


def classify_status(status: int) -> Literal["ok", "retry", "permanent"]:
    """What a delivery's HTTP status means for the job, as Mastodon decides it.

    2xx is done. 4xx means the peer will never accept this request (bad signature
    format, gone, forbidden), except 401 (the peer may not have fetched our fresh key
    yet), 408 (timeout) and 429 (rate limit), which are worth retrying. 501 says the
    peer does not implement this, which will not change. Other 5xx, and anything
    unexpected such as a 3xx on a POST that we do not follow, are retried.
    """
    if 200 <= status < 300:
        return "ok"
    if status in (401, 408, 429):
        return "retry"
    if 400 <= status < 500 or status == 501:
        return "permanent"
    return "retry"


def parse_retry_after(value: str | None, *, now: datetime) -> timedelta | None:
    """Parse a ``Retry-After`` header (delay-seconds or HTTP-date) into a delay.

    Returns None when the header is missing or unreadable, so the caller falls back to
    the normal backoff. The result is clamped to [0, 1 day]: dates in the past mean
    "now", and nothing a peer says can delay a job more than a day.
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    if text.isascii() and text.isdigit():
        # Seven significant digits are past the 1-day cap already; do not parse more.
        delay = timedelta(seconds=int(text.lstrip("0")[:7] or "0"))
    else:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        if when.tzinfo is None:  # "-0000" means UTC per RFC 5322
            when = when.replace(tzinfo=UTC)
        delay = when - now
    return min(max(delay, timedelta(0)), MAX_RETRY_AFTER)


def next_run(
    attempt: int,
    *,
    now: datetime,
    jitter: float,
    retry_after: timedelta | None = None,
) -> datetime | None:
    """When to run a delivery again after ``attempt`` failed attempts, or None to give up.

    The later of our backoff and the peer's ``Retry-After`` wins: retrying earlier than
    the peer asked only earns another 429.
    """
    delay = backoff(attempt, jitter=jitter)
    if delay is None:
        return None
    if retry_after is not None:
        delay = max(delay, min(retry_after, MAX_RETRY_AFTER))
    return now + delay


@dataclass(frozen=True)
class CircuitState:
    """Consecutive failures of one inbox, and until when deliveries to it are paused."""

    failures: int = 0
    open_until: datetime | None = None


def circuit_after_failure(
    state: CircuitState,
    *,
    now: datetime,
    threshold: int = 5,
    open_for: timedelta = timedelta(minutes=10),
) -> CircuitState:
    """The state after one more failed delivery to the inbox.

    At ``threshold`` consecutive failures the circuit opens for ``open_for``. Once that
    has passed the circuit is half-open: one delivery is let through, and if it fails
    too (failures are still past the threshold) the circuit opens again at once.
    """
    failures = state.failures + 1
    if failures >= threshold:
        return CircuitState(failures=failures, open_until=now + open_for)
    return CircuitState(failures=failures, open_until=state.open_until)


def circuit_after_success(state: CircuitState) -> CircuitState:
    """Any success closes the circuit and forgets past failures."""
    return CircuitState()


def circuit_is_open(state: CircuitState, *, now: datetime) -> bool:
    """True while deliveries to the inbox should be held back."""
    return state.open_until is not None and now < state.open_until
