"""A background thread with a stop flag: the shape both notifiers' senders share."""

from __future__ import annotations

import threading
from collections.abc import Callable


class BackgroundThread:
    """Runs `target` in a daemon thread. `stopping` is set by `stop` (the target watches it to end); `start`
    after `stop` runs a fresh thread, and `start` on a running one does nothing."""

    def __init__(self, name: str, target: Callable[[], None]) -> None:
        self._name = name
        self._target = target
        self.stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self.stopping.clear()
        self._thread = threading.Thread(target=self._target, name=self._name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float, wake: Callable[[], None] = lambda: None) -> bool:
        """Ask the target to end (`wake` rouses it if it waits on something else) and wait up to `timeout`.
        False when there was no thread to stop."""
        thread, self._thread = self._thread, None
        if thread is None:
            return False
        self.stopping.set()
        wake()
        thread.join(timeout)
        return True
