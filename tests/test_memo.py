"""The per-process memo: values expire by age, and a full memo starts over."""

from __future__ import annotations

from fediverse_ai.memo import Memo


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_values_expire_after_their_age_limit() -> None:
    clock = Clock()
    memo: Memo[str, int] = Memo(5.0, clock=clock)
    assert memo.get("a") is None
    memo.put("a", 1)
    clock.now += 4.9
    assert memo.get("a") == 1
    clock.now += 0.1
    assert memo.get("a") is None
    memo.put("a", 2)  # refreshed: a new age
    assert memo.get("a") == 2
    memo.forget("a")
    assert memo.get("a") is None


def test_a_full_memo_starts_over_but_updates_in_place() -> None:
    memo: Memo[int, int] = Memo(60.0, size=2, clock=Clock())
    memo.put(1, 1)
    memo.put(2, 2)
    memo.put(2, 20)  # an update never drops the others
    assert (memo.get(1), memo.get(2)) == (1, 20)
    memo.put(3, 3)
    assert (memo.get(1), memo.get(2), memo.get(3)) == (None, None, 3)
