"""Domain events (a ticket was created, replied to, resolved, is at risk; an article changed) and the bus
that hands them to notifiers. The domain publishes; email and webhooks subscribe. A failing subscriber is
logged and never fails the change that raised the event (webhooks keep their own durable outbox)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from kb.errors import NotFound

if TYPE_CHECKING:  # the store records announcements: a runtime import would be circular
    from kb.store.event_log import EventLogRepository

log = logging.getLogger(__name__)

# The events kb publishes; webhook subscriptions choose among them.
EVENT_KINDS = (
    "ticket.created",
    "ticket.replied",
    "ticket.updated",
    "ticket.resolved",
    "ticket.sla_at_risk",
    "article.indexed",
    "article.removed",
    "article.drafted",
)


@dataclass(frozen=True)
class Event:
    kind: str
    data: dict[str, Any]  # JSON-ready: what a receiver needs without calling back
    at: datetime = field(default_factory=lambda: datetime.now(UTC))
    id: int | None = None  # the recorded event's id: the same on a re-dispatch, so receivers can drop repeats


@dataclass(frozen=True)
class Announcement:
    """An event to record with a change, in its transaction. `about_message`: it concerns the reply or note
    written with it."""

    kind: str
    data: dict[str, Any] = field(default_factory=dict)
    about_message: bool = False


Subscriber = Callable[[Event], None]

# How long a server holds an event it is handing on (subscribers only write to the outbox or a queue: seconds).
CLAIM = timedelta(minutes=1)


class EventBus:
    def __init__(self) -> None:
        self._subscribers: list[Subscriber] = []

    def subscribe(self, subscriber: Subscriber) -> None:
        self._subscribers.append(subscriber)

    def publish(self, event: Event) -> bool:
        """Hand `event` to every subscriber; False when one of them failed (the event is then kept for a retry)."""
        delivered = True
        for subscriber in self._subscribers:
            try:
                subscriber(event)
            except Exception:  # a notifier must never undo or fail the change itself
                log.exception("event subscriber failed for %s", event.kind)
                delivered = False
        return delivered


class EventRelay:
    """Publishes recorded events (kb.store.event_log) on the bus and marks them dispatched.

    The change that raised an event relays it right after committing; `relay_stale` (server maintenance)
    publishes any that a crash or a failing subscriber left behind, so every event reaches the notifiers at
    least once.
    """

    def __init__(
        self,
        log: EventLogRepository,
        bus: EventBus,
        ticket_data: Callable[[dict[str, Any]], dict[str, Any]],
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._log = log
        self._bus = bus
        self._ticket_data = ticket_data
        self._clock = clock

    def announce(self, announcements: Sequence[Announcement]) -> None:
        """Record and relay events that are not part of a ticket change (articles), recorded together."""
        if announcements:
            self.relay(self._log.add(announcements, self._clock()))

    def relay(self, ids: list[int]) -> None:
        if ids:
            self._dispatch(self._log.undispatched(ids=ids))

    def relay_articles(self) -> int:
        """Dispatch the events recorded with article changes (kb.store.change_log) that are not dispatched yet, right
        after they were indexed; how many. Another server racing for the same ones is kept off by the claims."""
        rows = self._log.undispatched(without_ticket=True)
        self._dispatch(rows)
        return len(rows)

    def relay_stale(self, older_than: timedelta = timedelta(minutes=1)) -> int:
        """Dispatch events recorded more than `older_than` ago and not yet dispatched; returns how many.
        The age keeps it from racing with the request that is relaying a fresh one."""
        rows = self._log.undispatched(recorded_before=self._clock() - older_than)
        self._dispatch(rows)
        return len(rows)

    def _dispatch(self, rows: list[dict[str, Any]]) -> None:
        for row in rows:
            now = self._clock()
            # Several servers may find the same stale event: the one that claims it hands it on.
            if not self._log.claim(row["id"], now, now + CLAIM):
                continue
            try:
                data = self._ticket_data(row) if row["ticket_id"] is not None else dict(row["data"])
            except NotFound:  # the ticket is gone: nothing left to announce
                self._log.mark_dispatched(row["id"], self._clock())
                continue
            if self._bus.publish(Event(row["kind"], data, at=row["at"], id=row["id"])):
                self._log.mark_dispatched(row["id"], self._clock())
