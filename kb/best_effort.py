"""Writes that must never cost the reader their answer: the search log, view audits, view counts.

A failed one (disk full, store locked) is logged and counted instead of failing or closing the response that
triggered it; the count is reported by the readiness probe so that an operator sees what was dropped.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable

from kb.errors import StorageUnavailable

log = logging.getLogger(__name__)


class BestEffortWrites:
    def __init__(self) -> None:
        self._dropped: Counter[str] = Counter()
        self._lock = threading.Lock()

    def attempt(self, kind: str, write: Callable[[], object]) -> bool:
        """Run `write`; on any failure count it under `kind` and go on. True when it was written."""
        try:
            write()
        except Exception as exc:  # whatever failed, the caller's response must not
            with self._lock:
                self._dropped[kind] += 1
                total = self._dropped[kind]
            # A storage fault has been logged where it was recognised (kb.store.faults); anything else is a bug.
            if isinstance(exc, StorageUnavailable):
                log.info("dropped a %s write (%d so far)", kind, total)
            else:
                log.exception("dropped a %s write (%d so far)", kind, total)
            return False
        return True

    def dropped(self) -> dict[str, int]:
        """How many writes of each kind were dropped since the process started."""
        with self._lock:
            return dict(self._dropped)
