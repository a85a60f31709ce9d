"""A per-process memo with an age limit, for reads that hot paths would repeat thousands of times
(the sender of a fan-out's deliveries, a domain's circuit state, remote keys)."""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Memo(Generic[K, V]):
    """Values younger than ``seconds``; at most ``size`` of them (all are dropped when full,
    which is rare and cheaper than tracking use)."""

    def __init__(
        self, seconds: float, *, size: int = 10_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.seconds = seconds
        self.size = size
        self._clock = clock
        self._items: dict[K, tuple[float, V]] = {}

    def get(self, key: K) -> V | None:
        hit = self._items.get(key)
        if hit is None or self._clock() - hit[0] >= self.seconds:
            return None
        return hit[1]

    def put(self, key: K, value: V) -> None:
        if len(self._items) >= self.size and key not in self._items:
            self._items.clear()
        self._items[key] = (self._clock(), value)

    def forget(self, key: K) -> None:
        self._items.pop(key, None)
