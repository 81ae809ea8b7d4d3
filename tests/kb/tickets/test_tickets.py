"""The ticket service over a real SQLite store: validation, routing, and the first-response promise."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest

from kb.errors import InvalidInput, NotFound
from kb.store import Store
from kb.teams import TeamDirectory, load_teams
from kb.tickets import NewTicket, Ticket
from kb.tickets.service import TicketService
from tests.conftest import STARTER_ARTICLES

pytestmark = pytest.mark.both_stores

UTC = dt.UTC
# Friday 27 March 2026, 14:00 UTC: the weekend before Lisbon and Warsaw move to summer time.
FRIDAY = dt.datetime(2026, 3, 27, 14, 0, tzinfo=UTC)


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    opened = Store(database_url)
    yield opened
    opened.close()


@pytest.fixture
def teams() -> TeamDirectory:
    return load_teams(STARTER_ARTICLES / "teams.yaml")


class Router:
    """Records what it was asked to route; a pure stand-in for the search-based router."""

    def __init__(self, team: str) -> None:
        self.team = team
        self.asked: list[str] = []

    def __call__(self, text: str) -> str:
        self.asked.append(text)
        return self.team


class _Tickets:
    """The service with `create` answering just the ticket (these tests never send an idempotency key)."""

    def __init__(self, service: TicketService) -> None:
        self.service = service

    def create(self, new: NewTicket) -> Ticket:
        return self.service.lifecycle.create(new)[0]

    def get(self, ticket_id: int) -> Ticket:
        return self.service.queries.get(ticket_id)


def _service(store: Store, teams: TeamDirectory, router: Router | None = None) -> _Tickets:
    return _Tickets(
        TicketService(
            store.tickets, teams, router or Router("IT"), store.users, audit=store.audit, clock=lambda: FRIDAY
        )
    )


def _new(**changes: object) -> NewTicket:
    values: dict[str, object] = {
        "subject": "Laptop fan is very loud",
        "description": "Since this morning the fan never stops.",
        "requester": "ana@example.com",
    }
    values.update(changes)
    return NewTicket(**values)  # type: ignore[arg-type]


def test_ticket_is_stored_with_the_first_response_in_team_business_hours(store: Store, teams: TeamDirectory) -> None:
    ticket = _service(store, teams).create(_new(team="IT"))

    assert ticket.id >= 1
    assert ticket.status == "new"
    assert ticket.team == "IT"
    assert ticket.priority == "normal"
    assert ticket.created_at == FRIDAY
    # IT (Lisbon, Fri 08:00-17:00): 3 h on Friday, then 5 h from Monday 08:00 WEST = 07:00 UTC.
    assert ticket.expected_first_response_by == dt.datetime(2026, 3, 30, 12, 0, tzinfo=UTC)


def test_priority_changes_the_target(store: Store, teams: TeamDirectory) -> None:
    urgent = _service(store, teams).create(_new(team="IT", priority="urgent"))
    assert urgent.expected_first_response_by == dt.datetime(2026, 3, 27, 15, 0, tzinfo=UTC)


def test_each_team_counts_in_its_own_timezone(store: Store, teams: TeamDirectory) -> None:
    ticket = _service(store, teams).create(_new(team="HR", priority="urgent"))
    # HR (Warsaw, Fri 09:00-15:00 CET): 14:00 UTC is 15:00 local, closed; Monday 09:00 CEST = 07:00 UTC, +2 h.
    assert ticket.expected_first_response_by == dt.datetime(2026, 3, 30, 9, 0, tzinfo=UTC)


def test_team_name_is_matched_case_insensitively(store: Store, teams: TeamDirectory) -> None:
    assert _service(store, teams).create(_new(team="  finance ")).team == "Finance"


def test_missing_team_is_routed_from_subject_and_description(store: Store, teams: TeamDirectory) -> None:
    router = Router("Facilities")

    ticket = _service(store, teams, router).create(_new(team=None, subject="Badge", description="Door stays red"))

    assert ticket.team == "Facilities"
    assert router.asked == ["Badge. Door stays red"]


def test_blank_team_is_routed_too(store: Store, teams: TeamDirectory) -> None:
    assert _service(store, teams, Router("HR")).create(_new(team="   ")).team == "HR"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"subject": "   "}, "subject"),
        ({"description": ""}, "description"),
        ({"requester": " "}, "requester"),
        ({"subject": "x" * 301}, "subject"),
        ({"priority": "whenever"}, "priority"),
        ({"team": "Legal"}, "team"),
    ],
)
def test_invalid_tickets_name_the_field(
    store: Store, teams: TeamDirectory, changes: dict[str, object], field: str
) -> None:
    with pytest.raises(InvalidInput) as raised:
        _service(store, teams).create(_new(**changes))
    assert raised.value.field == field


def test_unknown_ticket_is_not_found(store: Store, teams: TeamDirectory) -> None:
    with pytest.raises(NotFound):
        _service(store, teams).get(12345)


def test_ticket_survives_reopening_the_database(database_url: str, teams: TeamDirectory) -> None:
    first = Store(database_url)
    created = _service(first, teams).create(
        _new(team="IT", search_query="fan loud", viewed_article_ids=["laptop-running-slow"])
    )
    first.close()

    second = Store(database_url)
    try:
        again = _service(second, teams).get(created.id)
    finally:
        second.close()

    assert again == created
    assert again.viewed_article_ids == ["laptop-running-slow"]
    assert again.created_at.tzinfo is not None
