"""`kb demo-data`'s work: check the request, draw the history (kb.demo.history), write it (kb.demo.writer)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from indexer.build import Progress
from kb.demo.articles import DemoArticle
from kb.demo.history import generate_history
from kb.demo.writer import write_history
from kb.errors import Conflict, InvalidInput
from kb.store import Store
from kb.store.metrics import MetricsRepository
from kb.teams import TeamDirectory

MAX_TICKETS = 200_000
MAX_DAYS = 3650


@dataclass(frozen=True)
class DemoReport:
    tickets: int
    events: int
    searches: int
    feedback: int
    nps: int
    start: datetime
    end: datetime
    articles: int


def generate_demo_data(
    store: Store,
    teams: TeamDirectory,
    articles: Sequence[DemoArticle],
    *,
    tickets: int = 3000,
    days: int = 90,
    seed: int = 7,
    now: datetime | None = None,
    append: bool = False,
    progress: Progress | None = None,
) -> DemoReport:
    """Fill `store` with a generated history of `tickets` tickets over the `days` days before `now`.

    Refuses (Conflict) a store that already has tickets unless `append`. Deterministic for a seed and `now`.
    """
    if not 1 <= tickets <= MAX_TICKETS:
        raise InvalidInput(f"`tickets` must be 1 to {MAX_TICKETS}", field="tickets")
    if not 1 <= days <= MAX_DAYS:
        raise InvalidInput(f"`days` must be 1 to {MAX_DAYS}", field="days")
    configured = list(teams)
    if not configured:
        raise InvalidInput("no teams are configured", field="teams_file")
    metrics = MetricsRepository(store.engine)
    if not append and metrics.ticket_count():
        raise Conflict("the store already has tickets; pass --yes to add the demo history to them", field="yes")
    # Without `now`: the start of the current hour, so that a seed gives the same history within the hour.
    now = (now or datetime.now(UTC).replace(minute=0, second=0)).astimezone(UTC).replace(microsecond=0)
    start = now - timedelta(days=days)
    history = generate_history(
        configured, articles, tickets=tickets, start=start, now=now, seed=seed, answered_nps=metrics.nps_quarters()
    )
    write_history(store.engine, history, progress)
    return DemoReport(
        tickets=len(history.tickets),
        events=sum(len(events) for _values, events in history.tickets),
        searches=len(history.searches),
        feedback=len(history.feedback),
        nps=len(history.nps),
        start=start,
        end=now,
        articles=history.articles,
    )
