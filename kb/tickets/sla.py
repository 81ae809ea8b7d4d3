"""SLA status: first response and resolution, each on track / at risk / breached, in business hours.

The resolution clock stops while the ticket is pending (waiting on the requester): the business hours spent
pending are added to its due time. "At risk" means three quarters of the target's business hours are used.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol, get_args

from kb.teams import Team, add_business_hours, business_hours_between

AT_RISK_SHARE = 0.75
SlaState = Literal["on_track", "at_risk", "breached"]
SLA_STATES: tuple[SlaState, ...] = get_args(SlaState)
ClockState = Literal[SlaState, "met"]


class SlaFacts(Protocol):
    """What the clocks read of a ticket: a stored `Ticket`, or the metrics' own ticket rows."""

    @property
    def status(self) -> str: ...
    @property
    def priority(self) -> str: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def expected_first_response_by(self) -> datetime: ...
    @property
    def first_response_at(self) -> datetime | None: ...
    @property
    def resolved_at(self) -> datetime | None: ...
    @property
    def closed_at(self) -> datetime | None: ...
    @property
    def pending_since(self) -> datetime | None: ...
    @property
    def paused_hours(self) -> float: ...


@dataclass(frozen=True)
class Clock:
    target_hours: float
    due: datetime
    state: ClockState
    used_hours: float  # business hours used so far (or until it was met)


@dataclass(frozen=True)
class SlaStatus:
    first_response: Clock
    resolution: Clock
    paused: bool

    @property
    def state(self) -> SlaState:
        """The worst of the two clocks; a met clock counts as on track."""
        states = {self.first_response.state, self.resolution.state}
        if "breached" in states:
            return "breached"
        return "at_risk" if "at_risk" in states else "on_track"


def paused_hours(ticket: SlaFacts, team: Team, now: datetime) -> float:
    """Business hours the ticket has spent pending, including a pending spell still running."""
    total = float(ticket.paused_hours or 0.0)
    if ticket.status == "pending" and ticket.pending_since is not None:
        total += business_hours_between(ticket.pending_since, now, team)
    return total


def _clock(target: float, used: float, due: datetime, met_at: datetime | None) -> Clock:
    if met_at is not None:
        return Clock(target, due, "met" if met_at <= due else "breached", used)
    if used > target:
        state: ClockState = "breached"
    elif used >= AT_RISK_SHARE * target:
        state = "at_risk"
    else:
        state = "on_track"
    return Clock(target, due, state, used)


def sla_status(ticket: SlaFacts, team: Team, now: datetime) -> SlaStatus:
    created = ticket.created_at
    priority = ticket.priority
    response_target = team.first_response_target(priority)
    responded = ticket.first_response_at
    response_used = business_hours_between(created, responded or now, team)
    first_response = _clock(response_target, response_used, ticket.expected_first_response_by, responded)

    paused = paused_hours(ticket, team, now)
    resolution_target = team.resolution_target(priority)
    finished = ticket.resolved_at or ticket.closed_at
    resolution_used = business_hours_between(created, finished or now, team) - paused
    due = add_business_hours(created, resolution_target + paused, team)
    resolution = _clock(resolution_target, max(resolution_used, 0.0), due, finished)
    return SlaStatus(first_response, resolution, paused=ticket.status == "pending")
