"""Following the store's change log: each server keeps its own index in memory and applies what any server
published, within a second, without a restart.

A server applies the changes its index does not hold yet. The log says, for each change, the digest of what
employees see after it (text, team, audience, language); when the live index already holds every one of those (this
server made the change, or another server's generation on a shared disk has it), the follower only moves its
cursor. Otherwise it refreshes the index from the store, which embeds only the articles whose text changed.
Announcing a change (webhooks) is not an index's work: its event is recorded with the change (kb.store.change_log),
once. The answer calibration follows the same way: the server doing the shared maintenance measures it and stores
it, and every server adopts the newest one stored.

What else a server keeps in memory follows the store without this log: users, tokens and webhooks are read from the
store on every request, and the teams are reloaded when their stored edits changed, checked at most every
0.5 s (kb.teams.service.REFRESH_EVERY).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kb.errors import IndexNotReady
from kb.indexing import IndexingService
from kb.store.calibrations import CalibrationRepository
from kb.store.change_log import ChangeLogRepository, ChangeWakeups, LoggedChange, shown_digest

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FollowStatus:
    """Where this server's index stands against the change log."""

    applied: int  # the newest change the index holds
    head: int  # the newest change in the log, when last read
    lag_seconds: float  # how long the oldest change not yet applied has waited (0 when caught up)
    caught_up: bool  # the index has held the whole log at least once since this server started

    @property
    def lag_changes(self) -> int:
        return max(0, self.head - self.applied)


class ChangeFollower:
    def __init__(
        self,
        changes: ChangeLogRepository,
        calibrations: CalibrationRepository,
        indexing: IndexingService,
        wakeups: ChangeWakeups,
        *,
        poll_seconds: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._changes = changes
        self._calibrations = calibrations
        self._calibration_seq = 0  # the stored calibration adopted last
        self._indexing = indexing
        self._wakeups = wakeups
        self._poll_seconds = poll_seconds
        self._clock = clock
        self._applied = 0
        self._head = 0
        self._waiting_since: float | None = None  # when the oldest change not yet applied was made
        self._caught_up = False
        self._failing = False
        self._round = threading.Lock()  # one round at a time (the thread, a test, the start-up)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def status(self) -> FollowStatus:
        waiting = self._waiting_since
        lag = max(0.0, self._clock() - waiting) if waiting is not None else 0.0
        # Not following at all (KB_FOLLOW_SECONDS=0): one server alone, always as caught up as its own writes.
        return FollowStatus(self._applied, self._head, lag, self._caught_up or self._poll_seconds <= 0)

    def follow_once(self) -> int:
        """Apply every change logged after the last one applied; how many were read."""
        with self._round:
            if not self._caught_up:
                self._applied = max(self._applied, self._start_after())
            head = self._changes.head()
            self._head = max(self._head, head)
            read = 0
            while self._applied < head:
                pending = self._changes.after(self._applied)
                if not pending:
                    break
                self._waiting_since = pending[0].at.timestamp()
                if not self._index_holds(pending):
                    self._indexing.refresh(audit=False)
                # The refresh read the store after these changes were committed: it holds them all.
                self._applied = pending[-1].seq
                read += len(pending)
            self._waiting_since = None
            if not self._caught_up and self._indexing.has_generation():
                self._indexing.searcher()  # in memory before the server reports ready, not in its first search
            self._adopt_calibration()
            self._caught_up = True
            return read

    def _start_after(self) -> int:
        """The last change the generation found at start holds, when it was built from this store's log: only the
        changes after it are read. A data dir moved to another store, or a store restored from an older backup,
        has another change under that number: then every change is read, and the digests decide."""
        mark = self._indexing.source()
        if not mark:
            return 0
        logged = self._changes.change(int(mark.get("seq", 0)))
        return logged.seq if logged is not None and logged.mark() == mark else 0

    def _adopt_calibration(self) -> None:
        """The newest answer calibration any server stored (the shared maintenance measures it), once."""
        stored = self._calibrations.latest()
        if stored is not None and stored.seq != self._calibration_seq and self._indexing.adopt_calibration(stored.data):
            self._calibration_seq = stored.seq

    def _index_holds(self, pending: list[LoggedChange]) -> bool:
        try:
            docs = self._indexing.searcher().index.docs
        except IndexNotReady:
            if self._indexing.has_generation():  # damaged, or of another model: `kb index`'s decision
                raise
            return False  # no index yet: the refresh builds one
        latest = {change.article_id: change.shown_digest for change in pending}
        return all(_digest(docs.get(i)) == wanted for i, wanted in latest.items())

    # The thread ----------------------------------------------------------------------------------------
    def start(self) -> None:
        """Catch up with the log now (the server reports ready only then), then follow it in a thread (unless
        KB_FOLLOW_SECONDS is 0: one server alone, whose maintenance round repairs its index)."""
        if self._thread is not None:
            return
        following = self._poll_seconds > 0
        if following:
            self._wakeups.listen()
        try:
            self.follow_once()
        except Exception as exc:  # the thread retries; meanwhile the server is not ready
            log.warning("cannot catch up with the change log yet (%s)", exc)
            self._failing = True
        if not following:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="kb-follower", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        self._wakeups.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.follow_once()
                if self._failing:
                    log.info("following the change log again")
                self._failing = False
            except Exception as exc:  # the store or the build failed: the next round retries
                if not self._failing:
                    log.warning("cannot follow the change log (%s); retrying", exc)
                self._failing = True
            self._wakeups.wait(self._poll_seconds, self._stop)


def _digest(doc: dict[str, Any] | None) -> str | None:
    """The shown digest of an index document (None: the index does not hold it), as the change log computes it."""
    if doc is None:
        return None
    return shown_digest(doc["hash"], doc.get("team"), doc.get("audience") or [], doc.get("language"))
