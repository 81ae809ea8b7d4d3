"""Domain events (a ticket was created, replied to, resolved, is at risk; an article changed) and the bus
that hands them to notifiers. The domain publishes; email and webhooks subscribe. A failing subscriber is
logged and never fails the change that raised the event (webhooks keep their own durable outbox)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

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


Subscriber = Callable[[Event], None]


class EventBus:
    def __init__(self) -> None:
        self._subscribers: list[Subscriber] = []

    def subscribe(self, subscriber: Subscriber) -> None:
        self._subscribers.append(subscriber)

    def publish(self, event: Event) -> None:
        for subscriber in self._subscribers:
            try:
                subscriber(event)
            except Exception:  # a notifier must never undo or fail the change itself
                log.exception("event subscriber failed for %s", event.kind)
