"""Reading tickets: one by id (404 for a missing ticket and for one the reader may not see alike), and pages of
those a reader may see, filtered and newest first."""

from __future__ import annotations

from dataclasses import replace

from kb.access import Principal, can_read_every_ticket, can_read_ticket, can_work_ticket, can_work_tickets
from kb.errors import InvalidInput, NotFound
from kb.store.tickets import TicketFilter, TicketRepository
from kb.teams import PRIORITIES, TeamDirectory
from kb.tickets.inputs import check_choice, known_team
from kb.tickets.model import MAX_PER_PAGE, SCOPES, Ticket, TicketQuery
from kb.tickets.sla import SLA_STATES
from kb.tickets.states import STATES
from kb.tickets.views import TicketView, TicketViews


class TicketQueries:
    def __init__(self, repository: TicketRepository, teams: TeamDirectory, views: TicketViews) -> None:
        self._repository = repository
        self._teams = teams
        self._views = views

    def get(self, ticket_id: int) -> Ticket:
        """The stored ticket, whoever asks: for the domain's own use, never for showing to a reader."""
        ticket = self._repository.get(ticket_id)
        if ticket is None:
            raise NotFound(f"no ticket {ticket_id}", field="ticket_id")
        return ticket

    def readable(self, ticket_id: int, reader: Principal) -> Ticket:
        """The ticket if `reader` may see it; otherwise the same 404 as for a missing one."""
        ticket = self._repository.get(ticket_id)
        if ticket is None or not can_read_ticket(reader, ticket.requester, ticket.team):
            raise NotFound(f"no ticket {ticket_id}", field="ticket_id")
        return ticket

    def find(self, reader: Principal, query: TicketQuery) -> tuple[list[TicketView], int]:
        """A page of the tickets `reader` may see that match `query`, newest first, with SLA status."""
        if query.scope not in SCOPES:
            raise InvalidInput("`scope` must be mine, team or visible", field="scope")
        for name, value, allowed in (
            ("status", query.status, STATES),
            ("priority", query.priority, PRIORITIES),
            ("sla", query.sla, SLA_STATES),
        ):
            if value is not None:
                check_choice(name, value, allowed)
        if not 1 <= query.per_page <= MAX_PER_PAGE or query.page < 1:
            raise InvalidInput(f"`page` must be 1 or more and `per_page` 1-{MAX_PER_PAGE}", field="per_page")
        where = TicketFilter(
            statuses=None if query.status is None else (query.status,),
            priority=query.priority,
            assignee=query.assignee,
            team=known_team(self._teams, query.team).name if query.team is not None else None,
        )
        if query.scope == "mine" or (query.scope == "visible" and not can_work_tickets(reader)):
            where = replace(where, requester=reader.name)
        elif query.scope == "team" or not can_read_every_ticket(reader):
            mine = None if query.scope == "team" else reader.name
            where = replace(where, teams=self._teams_of(reader), include_requester=mine)
        rows = [t for t in self._repository.find(where) if can_read_ticket(reader, t.requester, t.team)]
        start, end = (query.page - 1) * query.per_page, query.page * query.per_page
        if query.sla is None:  # SLA status only for the page shown
            return [self._views.view(t, reader, history=False) for t in rows[start:end]], len(rows)
        views = [self._views.view(t, reader, history=False) for t in rows]
        matching = [v for v in views if v.get("sla", {}).get("state") == query.sla]
        return matching[start:end], len(matching)

    def _teams_of(self, reader: Principal) -> list[str]:
        if can_read_every_ticket(reader):
            return self._teams.names()
        return [t.name for t in self._teams if can_work_ticket(reader, t.name)]
