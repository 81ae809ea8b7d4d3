"""A bounded in-memory map of recent callers: entries untouched for a while are forgotten, and past a capacity the
least recently touched go first. Rate-limit buckets and sign-in audit marks both need exactly this."""

from __future__ import annotations

from collections import OrderedDict
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class RecentMap(Generic[K, V]):
    """Not thread-safe: callers hold their own lock around a read-modify-write."""

    def __init__(self, ttl_seconds: float, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self._ttl = ttl_seconds
        self._capacity = capacity
        self._entries: OrderedDict[K, tuple[V, float]] = OrderedDict()  # least recently touched first

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: K, now: float) -> tuple[V, float] | None:
        """The value and when it was last touched, after forgetting what `now` makes stale."""
        while self._entries:
            oldest, (_, touched) = next(iter(self._entries.items()))
            if now - touched < self._ttl:
                break
            del self._entries[oldest]
        return self._entries.get(key)

    def put(self, key: K, value: V, now: float) -> None:
        self._entries[key] = (value, now)
        self._entries.move_to_end(key)
        while len(self._entries) > self._capacity:
            self._entries.popitem(last=False)
