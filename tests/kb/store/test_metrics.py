"""The metrics' own queries (kb.store.metrics) on a real SQLite store: typed rows, feedback counts, and the status
of a ticket at a past moment."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from kb.store import Store, schema
from kb.store.metrics import LoggedSearch, MetricsRepository, NpsScore

pytestmark = pytest.mark.both_stores

START = datetime(2026, 10, 19, tzinfo=UTC)
END = datetime(2026, 11, 2, tzinfo=UTC)  # exclusive
LATER = datetime(2026, 11, 10, tzinfo=UTC)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    store = Store(database_url)
    yield store
    store.close()


def _insert(store: Store, table: sa.Table, rows: list[dict[str, Any]]) -> None:
    """Back-dated rows straight into the schema: the repositories only ever write the present."""
    with store.engine.begin() as conn:
        conn.execute(sa.insert(table), rows)


def _ticket(created: str, **values: Any) -> dict[str, Any]:
    return {
        "subject": "Help",
        "description": "Something is wrong.",
        "requester": "ivy",
        "team": "IT",
        "priority": "normal",
        "status": "new",
        "viewed_article_ids": [],
        "created_at": at(created),
        "expected_first_response_by": at(created) + timedelta(hours=8),
        **values,
    }


def test_a_users_votes_on_an_article_count_once_even_when_the_store_holds_several(database_url: str) -> None:
    """A store written before votes replaced each other (or a bulk insert) may hold ten "not helpful" clicks of one
    user: they are one vote, and a later "helpful" replaces it, even from a later window. Views still add up."""
    store = Store(database_url)
    try:

        def row(user: str, kind: str, when: str) -> dict[str, Any]:
            return {"article_id": "vpn", "user": user, "kind": kind, "at": at(when)}

        _insert(
            store,
            schema.article_feedback,
            [
                *[row("bob", "view", "2026-10-20T09:00") for _ in range(3)],
                *[row("bob", "not_helpful", f"2026-10-20T09:0{i}") for i in range(10)],
                *[row("ana", "not_helpful", "2026-10-21T09:00") for _ in range(4)],
                row("ana", "helpful", "2026-11-05T09:00"),  # after the window: ana's earlier votes are gone
                row("eve", "helpful", "2026-10-22T09:00"),
            ],
        )
        counts = MetricsRepository(store.engine).feedback_counts(START, END)
        assert counts == {"vpn": {"view": 3, "not_helpful": 1, "helpful": 1}}
        assert MetricsRepository(store.engine).feedback_counts(END, LATER) == {"vpn": {"helpful": 1}}
    finally:
        store.close()


def test_tickets_are_typed_rows_with_the_stored_gaps_filled(store: Store) -> None:
    _insert(
        store,
        schema.tickets,
        [_ticket("2026-10-20T09:00", paused_hours=None, csat_score=4, csat_at=at("2026-10-21T09:00"))],
    )

    [ticket] = MetricsRepository(store.engine).tickets_between("created_at", START, END)

    assert (ticket.team, ticket.priority, ticket.status, ticket.requester) == ("IT", "normal", "new", "ivy")
    assert ticket.created_at == at("2026-10-20T09:00") and ticket.created_at.tzinfo is not None
    assert ticket.paused_hours == 0.0  # a store written before the column held NULL
    assert (ticket.csat_score, ticket.first_response_at, ticket.resolved_at) == (4, None, None)
    assert MetricsRepository(store.engine).tickets_between("created_at", END, LATER) == []
    assert MetricsRepository(store.engine).tickets_between("created_at", START, END, ["HR"]) == []


def test_active_tickets_are_those_in_an_active_state(store: Store) -> None:
    _insert(
        store,
        schema.tickets,
        [_ticket("2026-10-20T09:00", status=status) for status in ("new", "open", "pending", "resolved", "closed")],
    )

    active = MetricsRepository(store.engine).active()

    assert [t.status for t in active] == ["new", "open", "pending"]
    assert MetricsRepository(store.engine).active(["HR"]) == []


def test_a_ticket_without_a_status_history_is_judged_by_its_timestamps(store: Store) -> None:
    """An imported ticket has no status changes: what happened by the moment asked about decides."""
    _insert(
        store,
        schema.tickets,
        [
            _ticket("2026-10-20T09:00", status="resolved", first_response_at=at("2026-10-21T09:00"),
                    pending_since=at("2026-10-22T09:00"), resolved_at=at("2026-10-23T09:00")),
        ],
    )  # fmt: skip
    repository = MetricsRepository(store.engine)

    def status_at(when: str) -> list[str]:
        return [status for _ticket, status in repository.statuses_at(at(when))]

    assert status_at("2026-10-20T10:00") == ["new"]
    assert status_at("2026-10-21T10:00") == ["open"]
    assert status_at("2026-10-22T10:00") == ["pending"]
    assert status_at("2026-10-23T10:00") == []  # resolved by then: not active
    assert status_at("2026-10-19T10:00") == []  # not created yet


def test_searches_and_nps_answers_in_a_window(store: Store) -> None:
    _insert(
        store,
        schema.search_log,
        [
            {"query": "vpn", "answered": True, "confidence": 0.9, "top_ids": ["vpn", "wifi"], "latency_ms": 5.0,
             "created_at": at("2026-10-20T09:00"), "user": "ana"},
            {"query": "late", "answered": False, "confidence": 0.1, "top_ids": [], "latency_ms": 5.0,
             "created_at": at("2026-11-05T09:00"), "user": None},
        ],
    )  # fmt: skip
    _insert(
        store,
        schema.nps_responses,
        [
            {"user": "ana", "quarter": "2026-Q4", "score": 9, "team": "IT", "at": at("2026-10-20T09:00")},
            {"user": "bob", "quarter": "2026-Q4", "score": 3, "team": None, "at": at("2026-11-05T09:00")},
        ],
    )
    repository = MetricsRepository(store.engine)

    assert repository.searches_between(START, END) == [
        LoggedSearch("vpn", True, ("vpn", "wifi"), "ana", at("2026-10-20T09:00"))
    ]
    assert repository.nps_between(START, LATER) == [
        NpsScore(9, "IT", at("2026-10-20T09:00")),
        NpsScore(3, None, at("2026-11-05T09:00")),
    ]
