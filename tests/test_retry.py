"""The delivery retry policy, with time and jitter pinned."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from fediverse_ai.retry import (
    MAX_ATTEMPTS,
    CircuitState,
    backoff,
    circuit_after_failure,
    circuit_after_success,
    circuit_is_open,
    classify_status,
    next_run,
    parse_retry_after,
)

NOW = datetime(2024, 5, 6, 12, 0, 0, tzinfo=UTC)


def _total(jitter: float) -> timedelta:
    total = timedelta(0)
    for attempt in range(1, MAX_ATTEMPTS):
        delay = backoff(attempt, jitter=jitter)
        assert delay is not None
        total += delay
    return total


def test_first_retries_are_quick_and_grow() -> None:
    assert backoff(1) == timedelta(seconds=16)
    assert backoff(2) == timedelta(seconds=31)
    assert backoff(3) == timedelta(seconds=96)
    delays = [backoff(n) for n in range(1, MAX_ATTEMPTS)]
    assert all(d is not None for d in delays)
    assert delays == sorted(d for d in delays if d is not None)


def test_no_retry_after_the_last_attempt() -> None:
    assert backoff(MAX_ATTEMPTS - 1) is not None
    assert backoff(MAX_ATTEMPTS) is None
    assert backoff(MAX_ATTEMPTS + 5, jitter=0.5) is None


@pytest.mark.parametrize("jitter", [0.0, 0.5, 0.999999])
def test_whole_schedule_spans_two_to_three_and_a_half_days(jitter: float) -> None:
    assert timedelta(days=2) <= _total(jitter) <= timedelta(days=3.5)


def test_average_schedule_is_about_two_and_a_half_to_three_days() -> None:
    assert timedelta(days=2.5) <= _total(0.5) <= timedelta(days=3)


def test_jitter_only_ever_adds() -> None:
    for attempt in range(1, MAX_ATTEMPTS):
        low = backoff(attempt, jitter=0.0)
        high = backoff(attempt, jitter=0.9)
        assert low is not None and high is not None
        assert low < high <= low * 1.5


@pytest.mark.parametrize(("attempt", "jitter"), [(0, 0.0), (-1, 0.0), (1, -0.1), (1, 1.0)])
def test_backoff_rejects_nonsense(attempt: int, jitter: float) -> None:
    with pytest.raises(ValueError):
        backoff(attempt, jitter=jitter)


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (200, "ok"),
        (201, "ok"),
        (202, "ok"),
        (204, "ok"),
        (400, "permanent"),
        (401, "retry"),
        (403, "permanent"),
        (404, "permanent"),
        (405, "permanent"),
        (408, "retry"),
        (410, "permanent"),
        (413, "permanent"),
        (422, "permanent"),
        (429, "retry"),
        (500, "retry"),
        (501, "permanent"),
        (502, "retry"),
        (503, "retry"),
        (504, "retry"),
        (520, "retry"),
        (302, "retry"),
    ],
)
def test_classify_status(status: int, expected: str) -> None:
    assert classify_status(status) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("", None),
        ("soon", None),
        ("-5", None),
        ("1.5", None),
        ("²", None),
        ("0", timedelta(0)),
        ("120", timedelta(seconds=120)),
        (" 120 ", timedelta(seconds=120)),
        ("000000000000030", timedelta(seconds=30)),
        ("86400", timedelta(days=1)),
        ("999999999", timedelta(days=1)),
        ("9" * 5000, timedelta(days=1)),
        ("Mon, 06 May 2024 12:05:00 GMT", timedelta(minutes=5)),
        ("Monday, 06-May-24 12:05:00 GMT", timedelta(minutes=5)),
        ("Mon May  6 12:05:00 2024", timedelta(minutes=5)),
        ("Mon, 06 May 2024 11:00:00 GMT", timedelta(0)),
        ("Mon, 20 May 2024 12:00:00 GMT", timedelta(days=1)),
        ("Mon, 06 May 2024 14:05:00 +0200", timedelta(minutes=5)),
    ],
)
def test_parse_retry_after(value: str | None, expected: timedelta | None) -> None:
    assert parse_retry_after(value, now=NOW) == expected


def test_next_run_uses_backoff_or_the_peers_hint_whichever_is_later() -> None:
    assert next_run(1, now=NOW, jitter=0.0) == NOW + timedelta(seconds=16)
    assert next_run(1, now=NOW, jitter=0.0, retry_after=timedelta(minutes=5)) == NOW + timedelta(
        minutes=5
    )
    late = next_run(10, now=NOW, jitter=0.0, retry_after=timedelta(seconds=5))
    assert late == NOW + timedelta(seconds=10**4 + 15)
    capped = next_run(1, now=NOW, jitter=0.0, retry_after=timedelta(days=30))
    assert capped == NOW + timedelta(days=1)


def test_next_run_gives_up_after_the_last_attempt() -> None:
    assert next_run(MAX_ATTEMPTS, now=NOW, jitter=0.3) is None
    assert next_run(MAX_ATTEMPTS, now=NOW, jitter=0.3, retry_after=timedelta(seconds=1)) is None


def test_circuit_opens_at_threshold_and_closes_after_open_for() -> None:
    state = CircuitState(failures=0, open_until=None)
    for _ in range(4):
        state = circuit_after_failure(state, now=NOW)
        assert not circuit_is_open(state, now=NOW)
    state = circuit_after_failure(state, now=NOW)
    assert state == CircuitState(failures=5, open_until=NOW + timedelta(minutes=10))
    assert circuit_is_open(state, now=NOW + timedelta(minutes=9, seconds=59))
    assert not circuit_is_open(state, now=NOW + timedelta(minutes=10))


def test_half_open_circuit_reopens_on_the_next_failure() -> None:
    state = CircuitState(failures=5, open_until=NOW)
    later = NOW + timedelta(minutes=11)
    assert not circuit_is_open(state, now=later)
    state = circuit_after_failure(state, now=later)
    assert circuit_is_open(state, now=later)
    assert state.open_until == later + timedelta(minutes=10)


def test_circuit_threshold_and_duration_are_tunable() -> None:
    state = circuit_after_failure(
        CircuitState(), now=NOW, threshold=1, open_for=timedelta(seconds=30)
    )
    assert state.open_until == NOW + timedelta(seconds=30)


def test_success_closes_the_circuit() -> None:
    state = CircuitState(failures=7, open_until=NOW + timedelta(minutes=3))
    assert circuit_after_success(state) == CircuitState(failures=0, open_until=None)
