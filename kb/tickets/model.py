"""The ticket entities as the domain holds them (frozen: a change is a new row read back, never an edit in place),
the requests that create, change and list them, and the limits every caller (API schemas included) takes from here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any, Literal

from kb.teams.model import Priority
from kb.tickets.states import Status

# Limits written once: the domain checks them and the API schemas advertise them.
MAX_SUBJECT = 300
MAX_DESCRIPTION = 20_000
MAX_MESSAGE = 20_000  # replies, notes and resolutions
MAX_REQUESTER = 200
MAX_TEAM_NAME = 100
MAX_SEARCH_QUERY = 1000
MAX_CONTEXT_ARTICLES = 50  # viewed / not-helpful article ids sent with a new ticket
MAX_CSAT_COMMENT = 2000
MAX_KEY = 200  # Idempotency-Key
CSAT_SCORES = (1, 5)
MAX_PER_PAGE = 100
MAX_SIMILAR_CASES = 20

Scope = Literal["mine", "team", "visible"]
SCOPES: tuple[Scope, ...] = ("mine", "team", "visible")
EventKind = Literal["created", "change", "reply", "note", "resolution", "csat"]


@dataclass(frozen=True)
class Ticket:
    id: int
    subject: str
    description: str
    requester: str
    team: str
    priority: Priority
    status: Status
    created_at: datetime
    expected_first_response_by: datetime
    search_query: str | None = None
    viewed_article_ids: list[str] = field(default_factory=list)
    not_helpful_article_ids: list[str] = field(default_factory=list)
    requester_email: str | None = None
    assignee: str | None = None
    updated_at: datetime | None = None
    first_response_at: datetime | None = None
    resolved_at: datetime | None = None
    closed_at: datetime | None = None
    resolution: str | None = None
    pending_since: datetime | None = None
    paused_hours: float = 0.0  # business hours spent pending: the resolution clock stops meanwhile
    csat_score: int | None = None
    csat_comment: str | None = None
    csat_at: datetime | None = None
    sla_risk_notified: bool = False
    version: int = 0  # bumped by every change: a write from a stale read is refused

    @classmethod
    def from_row(cls, row: Mapping[Any, Any]) -> Ticket:
        """A stored row; columns added after a store was created may be NULL in its old rows."""
        values = {k: v for k, v in row.items() if k in _TICKET_FIELDS}
        values["viewed_article_ids"] = list(values.get("viewed_article_ids") or [])
        values["not_helpful_article_ids"] = list(values.get("not_helpful_article_ids") or [])
        values["paused_hours"] = values.get("paused_hours") or 0.0
        values["sla_risk_notified"] = bool(values.get("sla_risk_notified"))
        values["version"] = values.get("version") or 0
        return cls(**values)


@dataclass(frozen=True)
class TicketEvent:
    """One entry of a ticket's history: a change (field, old, new), a message (body) or a rating."""

    id: int
    ticket_id: int
    at: datetime
    actor: str
    kind: str
    field: str | None = None
    old: str | None = None
    new: str | None = None
    body: str | None = None
    internal: bool = False

    @classmethod
    def from_row(cls, row: Mapping[Any, Any]) -> TicketEvent:
        return cls(**{k: v for k, v in row.items() if k in _EVENT_FIELDS})


_TICKET_FIELDS = frozenset(f.name for f in fields(Ticket))
_EVENT_FIELDS = frozenset(f.name for f in fields(TicketEvent))


@dataclass(frozen=True)
class NewTicket:
    subject: str
    description: str
    requester: str
    team: str | None = None
    priority: str = "normal"
    search_query: str | None = None
    viewed_article_ids: list[str] = field(default_factory=list)
    not_helpful_article_ids: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class TicketChange:
    """A PATCH: only the fields that are set change. `assignee=""` unassigns."""

    status: str | None = None
    priority: str | None = None
    team: str | None = None
    assignee: str | None = None
    resolution: str | None = None


@dataclass(frozen=True)
class TicketQuery:
    scope: str = "visible"  # mine | team | visible (everything the reader may see)
    status: str | None = None
    team: str | None = None
    priority: str | None = None
    assignee: str | None = None
    sla: str | None = None
    page: int = 1
    per_page: int = 20


def event_row(at: datetime, actor: str, kind: EventKind, **fields: Any) -> dict[str, Any]:
    """A history entry to record with a change (the store gives it its id and ticket); public unless `internal`."""
    return {"at": at, "actor": actor, "kind": kind, "internal": False, **fields}
