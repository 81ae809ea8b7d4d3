"""Shared work happens once among several servers on one store: the maintenance lease has one holder at a time,
and an event that several servers find undispatched is handed on by exactly one of them."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from kb.events import Event, EventBus, EventRelay
from kb.service import KnowledgeBase
from kb.settings import Settings
from kb.store import Store
from kb.store.leases import LeaseRepository
from kb.teams import load_teams
from kb.tickets.model import NewTicket
from kb.tickets.service import TicketService
from tests.conftest import STARTER_ARTICLES, copy_small_articles
from tests.fakes import HashingEmbedder

pytestmark = pytest.mark.both_stores

NOW = dt.datetime(2026, 12, 2, 9, 0, tzinfo=dt.UTC)
TTL = dt.timedelta(minutes=10)


@pytest.fixture
def stores(database_url: str) -> Iterator[tuple[Store, Store]]:
    """Two servers' stores over one database."""
    first, second = Store(database_url), Store(database_url)
    yield first, second
    first.close()
    second.close()


def test_the_lease_has_one_holder_until_it_expires(stores: tuple[Store, Store]) -> None:
    first, second = (LeaseRepository(store.engine) for store in stores)

    assert first.acquire("maintenance", "a", TTL, NOW)
    assert not second.acquire("maintenance", "b", TTL, NOW)
    assert first.acquire("maintenance", "a", TTL, NOW + dt.timedelta(minutes=5))  # renewed by its holder
    assert not second.acquire("maintenance", "b", TTL, NOW + dt.timedelta(minutes=14))
    assert second.acquire("maintenance", "b", TTL, NOW + dt.timedelta(minutes=16))  # "a" died: it passed on
    second.release("maintenance", "b")
    assert first.acquire("maintenance", "a", TTL, NOW + dt.timedelta(minutes=16))


def test_a_server_that_stops_hands_the_shared_maintenance_on_at_once(tmp_path: Path, database_url: str) -> None:
    settings = Settings(
        data_dir=tmp_path / "data",
        articles_dir=copy_small_articles(tmp_path / "articles"),
        database_url=database_url,
        multilingual=False,
    )
    first = KnowledgeBase(settings, embedder=HashingEmbedder())
    second = KnowledgeBase(settings, embedder=HashingEmbedder())
    try:
        assert first.maintenance.run_once().shared
        assert not second.maintenance.run_once().shared
        first.close()
        assert second.maintenance.run_once().shared
    finally:
        second.close()


def test_servers_racing_for_the_lease_leave_one_holder(stores: tuple[Store, Store]) -> None:
    won: list[str] = []
    start = threading.Barrier(8)

    def race(name: str, store: Store) -> None:
        start.wait()
        if LeaseRepository(store.engine).acquire("maintenance", name, TTL, NOW):
            won.append(name)

    threads = [threading.Thread(target=race, args=(f"s{i}", stores[i % 2])) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(won) == 1


def test_a_stale_event_found_by_eight_relays_at_once_is_handed_on_once(stores: tuple[Store, Store]) -> None:
    received: list[Event] = []
    lock = threading.Lock()

    def subscriber(event: Event) -> None:
        with lock:
            received.append(event)

    teams = load_teams(STARTER_ARTICLES / "teams.yaml")
    relays = []
    for store in stores:
        bus = EventBus()
        bus.subscribe(subscriber)
        tickets = TicketService(store.tickets, teams, lambda _: "IT", store.users, audit=store.audit)
        relays.append(
            EventRelay(
                store.event_log, bus, tickets.event_data, clock=lambda: dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
            )
        )
        if len(relays) == 1:  # a ticket whose creation was never relayed (its server died before)
            for n in range(5):
                tickets.lifecycle.create(NewTicket(subject=f"T{n}", description="D", requester="ana", team="IT"))
    start = threading.Barrier(8)

    def relay(index: int) -> None:
        start.wait()
        relays[index % 2].relay_stale()

    threads = [threading.Thread(target=relay, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(e.id or 0 for e in received) == sorted({e.id or 0 for e in received})  # none twice
    assert len(received) == 5  # none skipped
    assert stores[0].event_log.undispatched() == []
