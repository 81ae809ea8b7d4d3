"""What a reader sees of a ticket: its fields less the article ids they may not read, its SLA status and, for the
detail view, its history (internal notes only for the team's agents and admins). The view is the API's JSON
shape, so it stays a dict."""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import asdict
from datetime import datetime
from typing import Any

from kb.access import Principal, can_read_article, can_work_ticket
from kb.store.tickets import TicketRepository
from kb.teams import TeamDirectory
from kb.tickets.model import Ticket
from kb.tickets.sla import sla_status

AudiencesOf = Callable[[Collection[str]], dict[str, list[str]]]
TicketView = dict[str, Any]


def all_public(article_ids: Collection[str]) -> dict[str, list[str]]:
    """Without an article store: every id counts as an article meant for everyone."""
    return {article_id: [] for article_id in article_ids}


class TicketViews:
    def __init__(
        self,
        repository: TicketRepository,
        teams: TeamDirectory,
        audiences_of: AudiencesOf,
        clock: Callable[[], datetime],
    ) -> None:
        self._repository = repository
        self._teams = teams
        self._audiences_of = audiences_of
        self._clock = clock

    def view(self, ticket: Ticket, reader: Principal, *, history: bool = True) -> TicketView:
        team = self._teams.get(ticket.team)
        now = self._clock()
        view = asdict(ticket)
        # The requester may have read articles this reader may not: their ids stay out of the reader's view.
        context = ticket.viewed_article_ids + ticket.not_helpful_article_ids
        audiences = self._audiences_of(set(context)) if context else {}
        for key, ids in (
            ("viewed_article_ids", ticket.viewed_article_ids),
            ("not_helpful_article_ids", ticket.not_helpful_article_ids),
        ):
            view[key] = [a for a in ids if can_read_article(reader, audiences.get(a) or [])]
        if team is not None:
            sla = sla_status(ticket, team, now)
            view["expected_resolution_by"] = sla.resolution.due
            view["sla"] = {
                "state": sla.state,
                "paused": sla.paused,
                **{
                    name: {
                        "state": c.state,
                        "due": c.due,
                        "target_hours": c.target_hours,
                        "used_hours": round(c.used_hours, 2),
                    }
                    for name, c in (("first_response", sla.first_response), ("resolution", sla.resolution))
                },
            }
        if history:
            internal = can_work_ticket(reader, ticket.team)
            view["events"] = [asdict(e) for e in self._repository.events(ticket.id, internal=internal)]
        return view
