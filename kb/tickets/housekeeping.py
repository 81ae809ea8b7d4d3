"""Periodic ticket work, run by the server's maintenance loop: auto-close and the SLA-risk announcement."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from kb.events import Announcement
from kb.store.tickets import StaleTicket, TicketFilter, TicketRepository
from kb.teams import TeamDirectory
from kb.tickets.model import event_row
from kb.tickets.sla import sla_status
from kb.tickets.states import ACTIVE


class TicketHousekeeping:
    def __init__(
        self,
        repository: TicketRepository,
        teams: TeamDirectory,
        relay: Callable[[list[int]], None],
        clock: Callable[[], datetime],
    ) -> None:
        self._repository = repository
        self._teams = teams
        self._relay = relay
        self._clock = clock

    def close_resolved(self, after_days: int) -> list[int]:
        """Close tickets resolved more than `after_days` days ago; the requester had that long to reopen.
        A ticket reopened between the read and the write is left open."""
        now = self._clock()
        closed = []
        for ticket in self._repository.resolved_before(now - timedelta(days=after_days)):
            event = event_row(now, "system", "change", field="status", old="resolved", new="closed")
            try:
                _, recorded = self._repository.update(
                    ticket.id,
                    {"status": "closed", "closed_at": now, "updated_at": now},
                    [event],
                    version=ticket.version,
                    announce=[Announcement("ticket.updated")],
                    at=now,
                )
            except StaleTicket:
                continue
            self._relay(recorded)
            closed.append(ticket.id)
        return closed

    def flag_at_risk(self) -> list[int]:
        """Announce `ticket.sla_at_risk` once for each active ticket whose SLA is at risk or breached."""
        now = self._clock()
        flagged = []
        for ticket in self._repository.find(TicketFilter(statuses=ACTIVE)):
            team = self._teams.get(ticket.team)
            if ticket.sla_risk_notified or team is None:
                continue
            sla = sla_status(ticket, team, now)
            if sla.state == "on_track" or sla.paused:
                continue
            try:
                _, recorded = self._repository.update(
                    ticket.id,
                    {"sla_risk_notified": True},
                    [],
                    version=ticket.version,
                    announce=[Announcement("ticket.sla_at_risk", {"sla": {"state": sla.state}})],
                    at=now,
                )
            except StaleTicket:
                continue  # changed meanwhile: the next round judges it again
            self._relay(recorded)
            flagged.append(ticket.id)
        return flagged
