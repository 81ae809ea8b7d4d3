"""The server's periodic round. Part of it is shared work that one server of several must do once (closing old
resolved tickets, flagging SLA risk, embedding resolved tickets, handing on events a crash left behind, measuring the
answer calibration again): the server holding the `maintenance` lease does it. Bringing its own index up to the
store runs on every server."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from kb.events import EventRelay
from kb.indexing import IndexingService
from kb.store.leases import LeaseRepository
from kb.tickets.service import TicketService

LEASE = "maintenance"


def server_identity() -> str:
    """This process among the servers sharing the store: host, pid and a random part (pids are reused)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass(frozen=True)
class RoundReport:
    shared: bool  # this server held the lease and did the shared work


class Maintenance:
    def __init__(
        self,
        tickets: TicketService,
        relay: EventRelay,
        indexing: IndexingService,
        leases: LeaseRepository,
        every_seconds: float,
        holder: str | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._tickets = tickets
        self._relay = relay
        self._indexing = indexing
        self._leases = leases
        self.holder = holder or server_identity()
        # Held a little past the next round, so the same server keeps it while alive; a dead one's passes.
        self._ttl = timedelta(seconds=max(2 * every_seconds, 60))
        self._clock = clock

    def run_once(self) -> RoundReport:
        shared = self._hold()
        if shared:
            self._tickets.maintain()
        if shared and self._hold():  # renewed between the steps: a long step must not let another server in
            self._relay.relay_stale()
        if shared and self._hold():
            # Measured once for all servers; each adopts the stored result (kb.follower).
            self._indexing.recalibrate_if_due()
        self._indexing.catch_up()  # a publish whose index write failed
        return RoundReport(shared)

    def release(self) -> None:
        """Give the lease up (a server stopping): another server takes the shared work at its next round."""
        self._leases.release(LEASE, self.holder)

    def _hold(self) -> bool:
        return self._leases.acquire(LEASE, self.holder, self._ttl, self._clock())
