"""Creating and reading tickets; the expected first response is computed in the team's business hours."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from kb.errors import InvalidInput, NotFound
from kb.store.database import TicketRepository
from kb.teams import PRIORITIES, TeamDirectory, add_business_hours

MAX_SUBJECT = 300
MAX_DESCRIPTION = 20_000


@dataclass(frozen=True)
class NewTicket:
    subject: str
    description: str
    requester: str
    team: str | None = None
    priority: str = "normal"
    search_query: str | None = None
    viewed_article_ids: list[str] = field(default_factory=list)


def _required(value: str, name: str, limit: int) -> str:
    text = value.strip()
    if not text:
        raise InvalidInput(f"`{name}` must not be empty", field=name)
    if len(text) > limit:
        raise InvalidInput(f"`{name}` is longer than {limit} characters", field=name)
    return text


class TicketService:
    def __init__(
        self,
        repository: TicketRepository,
        teams: TeamDirectory,
        router: Callable[[str], str],
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._repository = repository
        self._teams = teams
        self._route = router
        self._clock = clock

    def create(self, new: NewTicket) -> dict[str, Any]:
        subject = _required(new.subject, "subject", MAX_SUBJECT)
        description = _required(new.description, "description", MAX_DESCRIPTION)
        requester = _required(new.requester, "requester", 200)
        if new.priority not in PRIORITIES:
            raise InvalidInput(f"unknown priority {new.priority!r}; use {', '.join(PRIORITIES)}", field="priority")
        team_name = new.team.strip() if new.team and new.team.strip() else self._route(f"{subject}. {description}")
        team = self._teams.get(team_name)
        if team is None:
            raise InvalidInput(
                f"unknown team {team_name!r}; known teams: {', '.join(self._teams.names())}", field="team"
            )
        created_at = self._clock()
        return self._repository.add(
            {
                "subject": subject,
                "description": description,
                "requester": requester,
                "team": team.name,
                "priority": new.priority,
                "status": "new",
                "search_query": new.search_query,
                "viewed_article_ids": list(new.viewed_article_ids),
                "created_at": created_at,
                "expected_first_response_by": add_business_hours(
                    created_at, team.first_response_target(new.priority), team
                ),
            }
        )

    def get(self, ticket_id: int) -> dict[str, Any]:
        ticket = self._repository.get(ticket_id)
        if ticket is None:
            raise NotFound(f"no ticket {ticket_id}", field="ticket_id")
        return ticket
