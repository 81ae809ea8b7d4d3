"""Admission of searches: a bounded queue in front of the model, so a burst is refused early instead of making
every request wait behind it."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from kb.errors import Overloaded

# How much the latest search moves the running mean of search times (exponentially weighted).
_WEIGHT = 0.2


class SearchGate:
    """Lets at most `capacity` searches in at once (the one running and those waiting for the model); one more is
    refused with Overloaded at once rather than queued.

    Its `retry_after` is the recent mean time a search spent from admission to answer, rounded up to a second: when
    the gate is full, that is about how long the queue takes to drain. Thread-safe."""

    def __init__(self, capacity: int, clock: Callable[[], float] = time.monotonic) -> None:
        if capacity < 1:
            raise ValueError("a search gate needs capacity >= 1")
        self.capacity = capacity
        self._clock = clock
        self._lock = threading.Lock()
        self._admitted = 0
        self._mean_seconds = 0.0

    @property
    def admitted(self) -> int:
        """Searches in now: running or waiting for the model."""
        with self._lock:
            return self._admitted

    @property
    def retry_after(self) -> int:
        with self._lock:
            return max(1, math.ceil(self._mean_seconds))

    @contextmanager
    def admit(self) -> Iterator[None]:
        """Hold a place for the duration of one search; Overloaded when every place is taken."""
        with self._lock:
            full = self._admitted >= self.capacity
            if not full:
                self._admitted += 1
        if full:
            retry_after = self.retry_after
            raise Overloaded(
                f"{self.capacity} searches are already running or waiting for the model; try again in {retry_after} s",
                retry_after=retry_after,
            )
        started = self._clock()
        try:
            yield
        finally:
            elapsed = self._clock() - started
            with self._lock:
                self._admitted -= 1
                self._mean_seconds += _WEIGHT * (elapsed - self._mean_seconds)
