"""The payload of a recorded ticket event (webhooks, e-mail), built from the ticket as it is when dispatched.

Receivers are not readers: only public fields leave, never internal notes nor the article ids of the search
context."""

from __future__ import annotations

from typing import Any, TypedDict

from kb.store.tickets import TicketRepository
from kb.teams import TeamDirectory
from kb.tickets.queries import TicketQueries


class TicketSummary(TypedDict):
    """`data["ticket"]` of a ticket event, as receivers get it (JSON: times are ISO strings). Notifiers read it
    from the outbox too, where an event recorded by an older release may lack a key: they read with `.get`."""

    id: int
    url: str
    subject: str
    status: str
    priority: str
    team: str
    requester: str
    assignee: str | None
    created_at: str | None
    expected_first_response_by: str | None


class TicketPayloads:
    def __init__(self, repository: TicketRepository, teams: TeamDirectory, queries: TicketQueries) -> None:
        self._repository = repository
        self._teams = teams
        self._queries = queries

    def event_data(self, pending: dict[str, Any]) -> dict[str, Any]:
        """`pending`: the recorded event (kb.events.EventRelay): its ticket id, data and the message it is about."""
        ticket = self._queries.get(pending["ticket_id"])
        team = self._teams.get(ticket.team)
        summary = TicketSummary(
            id=ticket.id,
            url=f"/v1/tickets/{ticket.id}",
            subject=ticket.subject,
            status=ticket.status,
            priority=ticket.priority,
            team=ticket.team,
            requester=ticket.requester,
            assignee=ticket.assignee,
            created_at=ticket.created_at.isoformat(),
            expected_first_response_by=ticket.expected_first_response_by.isoformat(),
        )
        data: dict[str, Any] = {
            "ticket": summary,
            "requester_email": ticket.requester_email,
            "team_email": team.email if team else None,
            **pending["data"],
        }
        if pending["event_id"] is not None:
            message = self._repository.event(pending["event_id"])
            assert message is not None  # ids come from committed rows
            data["reply"] = {"author": message.actor, "body": message.body}
        return data
