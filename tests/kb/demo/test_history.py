"""The generated history follows the service's own rules: every status change it writes is one the real transition
table allows (and a stricter table is obeyed, not bypassed), and the writer stores exactly what was drawn."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from kb.demo import DemoArticle
from kb.demo.history import History, generate_history
from kb.demo.writer import write_history
from kb.errors import Conflict
from kb.store import Store, schema
from kb.teams import Team, TeamDirectory, load_teams
from kb.tickets import states
from kb.tickets.states import Status, check_transition
from tests.conftest import STARTER_ARTICLES

pytestmark = pytest.mark.both_stores

NOW = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
ARTICLES = [DemoArticle("vpn", "VPN drops on hotel wifi", "IT"), DemoArticle("leave", "Annual leave", "HR")]


@pytest.fixture(scope="module")
def teams() -> list[Team]:
    directory: TeamDirectory = load_teams(STARTER_ARTICLES / "teams.yaml")
    return list(directory)


def _history(teams: list[Team], seed: int = 5, tickets: int = 400) -> History:
    return generate_history(
        teams, ARTICLES, tickets=tickets, start=NOW - timedelta(days=30), now=NOW, seed=seed, answered_nps=set()
    )


def test_every_generated_status_change_is_allowed_and_ends_in_the_ticket_status(teams: list[Team]) -> None:
    history = _history(teams)
    moves: set[tuple[str, str]] = set()
    for values, events in history.tickets:
        status: Status = "new"
        for event in events:
            if event["kind"] == "change" and event["field"] == "status":
                assert event["old"] == status
                check_transition(status, event["new"])  # raises if the service would refuse it
                moves.add((status, event["new"]))
                status = event["new"]
        assert values["status"] == status
    # The history shows the whole lifecycle, pending spells included.
    assert moves == {("new", "open"), ("open", "pending"), ("pending", "open"), ("open", "resolved"),
                     ("resolved", "closed")}  # fmt: skip


def test_the_generator_obeys_the_transition_table_instead_of_its_own(
    teams: list[Team], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(states.TRANSITIONS, "open", frozenset({"resolved"}))  # a service without pending spells

    with pytest.raises(Conflict, match="a open ticket cannot become pending"):
        _history(teams)


def test_the_same_seed_draws_the_same_history(teams: list[Team]) -> None:
    assert _history(teams, seed=3, tickets=100) == _history(teams, seed=3, tickets=100)
    assert _history(teams, seed=3, tickets=100) != _history(teams, seed=4, tickets=100)


def test_the_writer_stores_every_row_drawn(tmp_path: Path, teams: list[Team]) -> None:
    history = _history(teams, tickets=120)
    store = Store(f"sqlite:///{tmp_path / 'kb.sqlite3'}")
    try:
        write_history(store.engine, history)
        with store.engine.connect() as conn:
            tickets = conn.execute(sa.select(schema.tickets).order_by(schema.tickets.c.id)).all()
            events = conn.execute(sa.select(schema.ticket_events)).all()
            counts = {
                table.name: conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
                for table in (schema.search_log, schema.article_feedback, schema.nps_responses)
            }
    finally:
        store.close()

    assert [t.subject for t in tickets] == [values["subject"] for values, _events in history.tickets]
    assert [t.created_at for t in tickets] == sorted(values["created_at"] for values, _events in history.tickets)
    per_ticket: dict[int, int] = defaultdict(int)
    for event in events:
        per_ticket[event.ticket_id] += 1
    assert [per_ticket[t.id] for t in tickets] == [len(e) for _values, e in history.tickets]
    assert counts == {
        "search_log": len(history.searches),
        "article_feedback": len(history.feedback),
        "nps_responses": len(history.nps),
    }
