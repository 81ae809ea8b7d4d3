"""The ticket lifecycle over a real SQLite store, with a clock the test moves: states, the SLA clocks and
their pause, first response, history, transfer, assignment, CSAT, auto-close and idempotency."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator

import pytest

from kb.access import Principal
from kb.errors import Conflict, Forbidden, InvalidInput, NotFound
from kb.events import Event, EventBus, EventRelay
from kb.store import Store
from kb.store.tickets import StaleTicket
from kb.teams import TeamDirectory, load_teams
from kb.tickets import NewTicket, Ticket, TicketChange, TicketQuery
from kb.tickets.service import TicketService
from tests.conftest import STARTER_ARTICLES

pytestmark = pytest.mark.both_stores

UTC = dt.UTC
# Monday 12 January 2026, 09:00 in Lisbon (UTC+0 in winter): IT is open 08:00-18:00 on weekdays.
MONDAY = dt.datetime(2026, 1, 12, 9, 0, tzinfo=UTC)
ANA = Principal(name="ana")
IVAN = Principal(name="ivan", role="agent", teams=frozenset({"IT"}))
HANNA = Principal(name="hanna", role="agent", teams=frozenset({"HR"}))
ADA = Principal(name="ada", role="admin")


class Clock:
    """The service's notion of now, moved by the test."""

    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    opened = Store(database_url)
    for name, role, teams in (("ivan", "agent", ["IT"]), ("hanna", "agent", ["HR"]), ("ana", "employee", [])):
        opened.users.add(
            name=name,
            email=f"{name}@example.com",
            role=role,
            groups=[],
            teams=teams,
            token_hash=f"hash-{name}",
            expires_at=MONDAY + dt.timedelta(days=90),
        )
    yield opened
    opened.close()


@pytest.fixture
def clock() -> Clock:
    return Clock(MONDAY)


@pytest.fixture
def published() -> list[Event]:
    return []


@pytest.fixture
def service(store: Store, clock: Clock, published: list[Event]) -> TicketService:
    """The service as KnowledgeBase wires it: events recorded with each change, relayed to the bus after it."""
    bus = EventBus()
    bus.subscribe(published.append)
    teams: TeamDirectory = load_teams(STARTER_ARTICLES / "teams.yaml")
    tickets = TicketService(
        store.tickets,
        teams,
        lambda _: "IT",
        store.users,
        audit=store.audit,
        relay=lambda ids: relay.relay(ids),
        clock=clock,
    )
    relay = EventRelay(store.event_log, bus, tickets.event_data, clock=clock)
    return tickets


def _open(service: TicketService, priority: str = "normal", key: str | None = None) -> Ticket:
    ticket, _ = service.lifecycle.create(
        NewTicket(
            subject="Laptop will not charge",
            description="The charger light is off.",
            requester="ana",
            team="IT",
            priority=priority,
        ),
        key,
    )
    return ticket


def test_a_new_ticket_has_both_sla_clocks_on_track(service: TicketService) -> None:
    view = service.views.view(_open(service), ANA)
    assert view["status"] == "new"
    # IT normal: first response 8 business hours, resolution 40.
    assert view["sla"]["first_response"]["due"] == MONDAY + dt.timedelta(hours=8)
    assert view["expected_resolution_by"] == dt.datetime(2026, 1, 16, 9, 0, tzinfo=UTC)  # Fri: 9+10+10+10+1 h
    assert view["sla"]["state"] == "on_track"
    assert [e["kind"] for e in view["events"]] == ["created"]


def test_the_first_agent_reply_is_the_first_response_and_opens_the_ticket(
    service: TicketService, clock: Clock, published: list[Event]
) -> None:
    ticket = _open(service)
    clock.advance(hours=2)
    service.reply(ticket.id, "Try another socket, please.", IVAN)

    after = service.queries.get(ticket.id)
    assert after.status == "open"
    assert after.first_response_at == MONDAY + dt.timedelta(hours=2)
    assert service.views.view(after, ANA)["sla"]["first_response"]["state"] == "met"
    assert [e.kind for e in published] == ["ticket.created", "ticket.replied"]


def test_sla_goes_at_risk_then_breached_in_business_hours(service: TicketService, clock: Clock) -> None:
    ticket = _open(service, priority="high")  # IT high: first response 4 h
    clock.advance(hours=3)
    assert service.views.view(service.queries.get(ticket.id), IVAN)["sla"]["first_response"]["state"] == "at_risk"
    clock.advance(hours=1, minutes=1)
    assert service.views.view(service.queries.get(ticket.id), IVAN)["sla"]["state"] == "breached"
    assert [t["id"] for t in service.find(IVAN, TicketQuery(sla="breached"))[0]] == [ticket.id]


def test_nights_do_not_count_towards_the_sla(service: TicketService, clock: Clock) -> None:
    ticket = _open(service, priority="high")
    clock.now = dt.datetime(2026, 1, 13, 7, 59, tzinfo=UTC)  # Tuesday before opening: 9 desk hours, not 23
    clock_view = service.views.view(service.queries.get(ticket.id), IVAN)["sla"]["first_response"]
    assert clock_view["used_hours"] == 9.0


def test_pending_pauses_the_resolution_clock(service: TicketService, clock: Clock) -> None:
    ticket = _open(service)
    before = service.views.view(ticket, IVAN)["expected_resolution_by"]
    service.lifecycle.update(ticket.id, TicketChange(status="pending"), IVAN)
    clock.advance(hours=5)  # 5 desk hours waiting on the requester
    paused = service.views.view(service.queries.get(ticket.id), IVAN)
    assert paused["sla"]["paused"] is True
    assert paused["sla"]["resolution"]["used_hours"] == 0.0

    service.reply(ticket.id, "Done, it still does not charge.", ANA)  # the requester's answer resumes it
    resumed = service.queries.get(ticket.id)
    assert resumed.status == "open"
    assert resumed.paused_hours == pytest.approx(5.0)
    assert service.views.view(resumed, IVAN)["expected_resolution_by"] == before + dt.timedelta(hours=5)


def test_resolving_needs_a_resolution_and_the_requester_can_reopen(service: TicketService, clock: Clock) -> None:
    ticket = _open(service)
    with pytest.raises(InvalidInput) as missing:
        service.lifecycle.update(ticket.id, TicketChange(status="resolved"), IVAN)
    assert missing.value.field == "resolution"

    clock.advance(hours=1)
    resolved = service.lifecycle.update(
        ticket.id, TicketChange(status="resolved", resolution="Replaced the charger."), IVAN
    )
    assert resolved.resolved_at == clock.now
    assert resolved.first_response_at == clock.now  # resolving answers the requester too

    reopened = service.lifecycle.update(ticket.id, TicketChange(status="open"), ANA)
    assert reopened.status == "open" and reopened.resolved_at is None


@pytest.mark.parametrize(
    ("path", "target"),
    [(["resolved", "closed"], "open"), (["resolved", "closed"], "pending"), ([], "closed")],
)
def test_transitions_that_are_not_allowed_are_a_conflict(service: TicketService, path: list[str], target: str) -> None:
    ticket = _open(service)
    for state in path:
        service.lifecycle.update(
            ticket.id, TicketChange(status=state, resolution="Fixed." if state == "resolved" else None), IVAN
        )
    with pytest.raises(Conflict) as raised:
        service.lifecycle.update(ticket.id, TicketChange(status=target), IVAN)
    assert raised.value.field == "status"


def test_a_requester_cannot_change_priority_team_or_assignee(service: TicketService) -> None:
    ticket = _open(service)
    for change in (TicketChange(priority="urgent"), TicketChange(team="HR"), TicketChange(assignee="ivan")):
        with pytest.raises(Forbidden):
            service.lifecycle.update(ticket.id, change, ANA)


def test_transfer_moves_the_ticket_to_the_other_team_and_records_it(service: TicketService) -> None:
    ticket = _open(service)
    service.lifecycle.update(ticket.id, TicketChange(assignee="ivan"), IVAN)
    moved = service.lifecycle.update(ticket.id, TicketChange(team="hr"), IVAN)

    assert moved.team == "HR"
    assert moved.assignee is None  # Ivan does not work in HR
    with pytest.raises(NotFound):
        service.queries.readable(ticket.id, IVAN)
    assert service.queries.readable(ticket.id, HANNA).team == "HR"
    changes = [
        (e["field"], e["old"], e["new"], e["actor"])
        for e in service.views.view(moved, HANNA)["events"]
        if e["kind"] == "change"
    ]
    assert ("team", "IT", "HR", "ivan") in changes
    assert ("assignee", "ivan", None, "ivan") in changes


def test_only_agents_of_the_team_can_be_assigned(service: TicketService) -> None:
    ticket = _open(service)
    with pytest.raises(InvalidInput) as raised:
        service.lifecycle.update(ticket.id, TicketChange(assignee="hanna"), IVAN)
    assert raised.value.field == "assignee"
    assigned = service.lifecycle.update(ticket.id, TicketChange(assignee="ivan"), IVAN)
    assert (assigned.assignee, assigned.status) == ("ivan", "open")


def test_internal_notes_never_reach_the_requester(service: TicketService) -> None:
    ticket = _open(service)
    service.note(ticket.id, "Charger recalled, batch 42.", IVAN)
    service.reply(ticket.id, "We are sending a new charger.", IVAN)
    with pytest.raises(Forbidden):
        service.note(ticket.id, "I am the requester.", ANA)

    requester_view = service.views.view(service.queries.get(ticket.id), ANA)
    agent_view = service.views.view(service.queries.get(ticket.id), IVAN)
    assert "batch 42" not in str(requester_view)
    assert [e["body"] for e in agent_view["events"] if e["kind"] == "note"] == ["Charger recalled, batch 42."]
    assert [e["body"] for e in requester_view["events"] if e["kind"] == "reply"] == ["We are sending a new charger."]


def test_csat_is_given_once_by_the_requester_after_resolution(service: TicketService) -> None:
    ticket = _open(service)
    with pytest.raises(Conflict):
        service.lifecycle.rate(ticket.id, 5, None, ANA)
    service.lifecycle.update(ticket.id, TicketChange(status="resolved", resolution="New charger."), IVAN)
    with pytest.raises(Forbidden):
        service.lifecycle.rate(ticket.id, 5, None, IVAN)
    with pytest.raises(InvalidInput):
        service.lifecycle.rate(ticket.id, 6, None, ANA)
    rated = service.lifecycle.rate(ticket.id, 4, "Quick, thanks", ANA)
    assert (rated.csat_score, rated.csat_comment) == (4, "Quick, thanks")
    with pytest.raises(Conflict):
        service.lifecycle.rate(ticket.id, 5, None, ANA)


def test_resolved_tickets_close_after_the_grace_period(service: TicketService, clock: Clock) -> None:
    ticket = _open(service)
    service.lifecycle.update(ticket.id, TicketChange(status="resolved", resolution="Fixed."), IVAN)
    clock.advance(days=6)
    assert service.housekeeping.close_resolved(after_days=7) == []
    clock.advance(days=1, minutes=1)
    assert service.housekeeping.close_resolved(after_days=7) == [ticket.id]
    closed = service.queries.get(ticket.id)
    assert closed.status == "closed"
    with pytest.raises(Conflict):
        service.reply(ticket.id, "One more thing", ANA)


def test_sla_risk_is_announced_once(service: TicketService, clock: Clock, published: list[Event]) -> None:
    ticket = _open(service, priority="urgent")  # IT urgent: first response 1 h
    clock.advance(minutes=50)
    assert service.housekeeping.flag_at_risk() == [ticket.id]
    assert service.housekeeping.flag_at_risk() == []
    assert [e.kind for e in published].count("ticket.sla_at_risk") == 1


def test_the_same_idempotency_key_returns_the_same_ticket(service: TicketService) -> None:
    first = _open(service, key="abc-1")
    second, replayed = service.lifecycle.create(
        NewTicket(
            subject="Laptop will not charge", description="The charger light is off.", requester="ana", team="IT"
        ),
        "abc-1",
    )
    assert replayed and second.id == first.id
    with pytest.raises(InvalidInput) as reused:
        service.lifecycle.create(NewTicket(subject="Other", description="Other", requester="ana", team="IT"), "abc-1")
    assert reused.value.field == "Idempotency-Key"
    # Keys belong to their sender: another requester's identical key is a new request.
    other, replayed = service.lifecycle.create(
        NewTicket(subject="Other", description="Other", requester="bob", team="IT"), "abc-1"
    )
    assert not replayed and other.id != first.id


def test_concurrent_creations_with_one_key_make_one_ticket(service: TicketService, store: Store) -> None:
    results: list[tuple[int, bool]] = []
    barrier = threading.Barrier(12)

    def create() -> None:
        barrier.wait()
        ticket, replayed = service.lifecycle.create(
            NewTicket(subject="Same", description="Sent twelve times at once", requester="ana", team="IT"), "same-key"
        )
        results.append((ticket.id, replayed))

    threads = [threading.Thread(target=create) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len({ticket_id for ticket_id, _ in results}) == 1
    assert sum(not replayed for _, replayed in results) == 1
    assert len(service.find(ADA, TicketQuery())[0]) == 1


def test_concurrent_replies_with_one_key_make_one_reply(service: TicketService) -> None:
    ticket = _open(service)
    barrier = threading.Barrier(8)
    ids: list[int] = []

    def reply() -> None:
        barrier.wait()
        ids.append(service.reply(ticket.id, "Any news?", ANA, "reply-key")[0].id)

    threads = [threading.Thread(target=reply) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(ids)) == 1
    assert [e["kind"] for e in service.views.view(service.queries.get(ticket.id), IVAN)["events"]].count("reply") == 1


def test_listing_follows_who_may_see_what(service: TicketService) -> None:
    mine = _open(service)
    hr, _ = service.lifecycle.create(NewTicket(subject="Payslip", description="Missing", requester="bob", team="HR"))
    assert [t["id"] for t in service.find(ANA, TicketQuery())[0]] == [mine.id]
    assert [t["id"] for t in service.find(IVAN, TicketQuery())[0]] == [mine.id]
    assert [t["id"] for t in service.find(HANNA, TicketQuery())[0]] == [hr.id]
    assert {t["id"] for t in service.find(ADA, TicketQuery())[0]} == {mine.id, hr.id}
    assert service.find(ADA, TicketQuery(team="HR"))[1] == 1
    with pytest.raises(InvalidInput):
        service.find(ADA, TicketQuery(status="sleeping"))


def test_a_transfer_moves_the_first_response_promise_to_the_new_team(service: TicketService) -> None:
    ticket = _open(service, priority="urgent")  # IT urgent: 1 h, so due 10:00 UTC
    assert ticket.expected_first_response_by == MONDAY + dt.timedelta(hours=1)
    moved = service.lifecycle.update(ticket.id, TicketChange(team="HR"), IVAN)
    # HR (Warsaw, 09:00-17:00 CET = 08:00-16:00 UTC) promises urgent in 2 h: 11:00 UTC.
    assert moved.expected_first_response_by == MONDAY + dt.timedelta(hours=2)


def test_reopening_clears_the_old_resolution(service: TicketService) -> None:
    ticket = _open(service)
    service.lifecycle.update(ticket.id, TicketChange(status="resolved", resolution="Restarted the router."), IVAN)
    service.reply(ticket.id, "It broke again.", ANA)
    reopened = service.queries.get(ticket.id)
    assert (reopened.status, reopened.resolution, reopened.resolved_at) == ("open", None, None)


def test_a_change_from_a_stale_read_is_refused(service: TicketService, store: Store, clock: Clock) -> None:
    ticket = _open(service)
    service.lifecycle.update(ticket.id, TicketChange(status="resolved", resolution="Fixed."), IVAN)
    stale = service.queries.get(ticket.id)
    service.reply(ticket.id, "Not fixed.", ANA)  # reopens: the version moves on
    with pytest.raises(StaleTicket):
        store.tickets.update(stale.id, {"status": "closed"}, [], version=stale.version, at=clock.now)
    assert service.queries.get(ticket.id).status == "open"


def test_concurrent_ratings_keep_the_first_one(service: TicketService) -> None:
    ticket = _open(service)
    service.lifecycle.update(ticket.id, TicketChange(status="resolved", resolution="Fixed."), IVAN)
    barrier = threading.Barrier(6)
    outcomes: list[str] = []

    def rate(score: int) -> None:
        barrier.wait()
        try:
            service.lifecycle.rate(ticket.id, score, None, ANA)
            outcomes.append("rated")
        except Conflict:
            outcomes.append("conflict")

    threads = [threading.Thread(target=rate, args=(score,)) for score in (1, 2, 3, 4, 5, 5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes.count("rated") == 1 and outcomes.count("conflict") == 5
    assert [e["kind"] for e in service.views.view(service.queries.get(ticket.id), IVAN)["events"]].count("csat") == 1


def test_auto_close_is_announced(service: TicketService, clock: Clock, published: list[Event]) -> None:
    ticket = _open(service)
    service.lifecycle.update(ticket.id, TicketChange(status="resolved", resolution="Fixed."), IVAN)
    clock.advance(days=8)
    service.housekeeping.close_resolved(after_days=7)
    assert published[-1].kind == "ticket.updated"
    assert published[-1].data["ticket"]["status"] == "closed"


def test_an_event_a_subscriber_failed_on_is_relayed_again_later(store: Store, clock: Clock) -> None:
    """The event is recorded in the ticket's own transaction; one that did not reach the notifiers (a crash
    before relaying, a failing subscriber) is relayed by maintenance: nothing is lost."""
    received: list[Event] = []
    failures = iter([True])

    def flaky(event: Event) -> None:
        if next(failures, False):
            raise OSError("store locked")
        received.append(event)

    bus = EventBus()
    bus.subscribe(flaky)
    teams = load_teams(STARTER_ARTICLES / "teams.yaml")
    crashed = TicketService(
        store.tickets, teams, lambda _: "IT", store.users, audit=store.audit, clock=clock
    )  # never relays
    relay = EventRelay(store.event_log, bus, crashed.event_data, clock=clock)
    first, _ = crashed.lifecycle.create(NewTicket(subject="A", description="A", requester="ana", team="IT"))
    relay.relay([e["id"] for e in store.event_log.undispatched()])
    assert received == []  # the subscriber failed: the event stays pending

    clock.advance(minutes=2)
    assert relay.relay_stale() == 1
    assert [(e.kind, e.data["ticket"]["id"]) for e in received] == [("ticket.created", first.id)]
    assert relay.relay_stale() == 0  # dispatched once
