"""Read-only queries behind the service metrics (kb.metrics): tickets by any of their timestamps, the state of
every ticket at a past moment (replayed from its history), who asked for help when, the search log, NPS answers
and article feedback counts, each mapped onto a small frozen row type that holds only what a metric reads.

The queries are this module's own (not the ticket repository's): the metrics read many tickets at once and
need none of the lifecycle's shaping. Every instant passed in is converted to UTC first: SQLite keeps datetimes
without their offset.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, cast

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from kb.store import schema
from kb.store.timestamps import utc
from kb.teams.model import Priority
from kb.tickets.states import ACTIVE, Status

TicketTime = Literal["created_at", "resolved_at", "closed_at", "csat_at", "first_response_at"]


@dataclass(frozen=True)
class MeasuredTicket:
    """A ticket as the metrics see it: its owner, priority, status and the instants its clocks read."""

    id: int
    requester: str
    team: str
    priority: Priority
    status: Status
    created_at: datetime
    expected_first_response_by: datetime
    first_response_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    pending_since: datetime | None
    paused_hours: float  # business hours spent pending (0 when never)
    csat_score: int | None
    csat_at: datetime | None


@dataclass(frozen=True)
class LoggedSearch:
    """One search-log row: what was asked, whether kb answered, the article ids it ranked first, and by whom."""

    query: str
    answered: bool
    top_ids: tuple[str, ...]
    user: str | None
    created_at: datetime


@dataclass(frozen=True)
class NpsScore:
    """One NPS answer (0-10) and the desk it is about, when the answer named one."""

    score: int
    team: str | None
    at: datetime


@dataclass(frozen=True)
class CatalogueEntry:
    """What the metrics need to know of a stored article (no body): who owns it, who may read it, its status."""

    title: str
    team: str | None
    audience: tuple[str, ...]
    status: str


class MetricsRepository:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def tickets_between(
        self, column: TicketTime, start: datetime, end: datetime, teams: Collection[str] | None = None
    ) -> list[MeasuredTicket]:
        """Tickets whose `column` falls in [start, end), of `teams` (None: every team), oldest id first."""
        table = schema.tickets
        conditions: list[Any] = [table.c[column] >= start, table.c[column] < end]
        if teams is not None:
            conditions.append(table.c.team.in_(list(teams)))
        return self._tickets(conditions)

    def active(self, teams: Collection[str] | None = None) -> list[MeasuredTicket]:
        """Tickets whose current status is active (kb.tickets.states.ACTIVE: new, open or pending)."""
        table = schema.tickets
        conditions: list[Any] = [table.c.status.in_(ACTIVE)]
        if teams is not None:
            conditions.append(table.c.team.in_(list(teams)))
        return self._tickets(conditions)

    def statuses_at(self, at: datetime, teams: Collection[str] | None = None) -> list[tuple[MeasuredTicket, Status]]:
        """The tickets (of `teams`) that may have been active at `at`, each with its status at that moment.

        Those are the tickets created by `at` and neither closed nor resolved by then: closed is final, and
        reopening a ticket clears its `resolved_at`, so a ticket closed or resolved by `at` was not active at `at`.
        The status is the last status change recorded in the ticket's history up to `at` ("new" before the
        first). A ticket with no status change in its history at all (imported) is judged by its timestamps:
        closed, resolved, pending, responded (open) or new, whichever happened by `at`, in that order.
        """
        at = utc(at)  # compared with stored times in Python below
        tickets, events = schema.tickets, schema.ticket_events
        conditions: list[Any] = [
            tickets.c.created_at <= at,
            sa.or_(tickets.c.closed_at.is_(None), tickets.c.closed_at > at),
            sa.or_(tickets.c.resolved_at.is_(None), tickets.c.resolved_at > at),
        ]
        if teams is not None:
            conditions.append(tickets.c.team.in_(list(teams)))
        changes = (
            sa.select(events.c.ticket_id, events.c.at, events.c.new)
            .join(tickets, tickets.c.id == events.c.ticket_id)
            .where(*conditions, events.c.kind == "change", events.c.field == "status")
            .order_by(events.c.at, events.c.id)
        )
        with self._engine.connect() as conn:
            rows = [_measured(row) for row in conn.execute(_select_tickets().where(*conditions).order_by(tickets.c.id))]
            history = conn.execute(changes).all()
        changed: set[int] = set()
        last: dict[int, Status] = {}
        for ticket_id, when, new in history:
            changed.add(int(ticket_id))
            if when <= at:
                last[int(ticket_id)] = cast(Status, str(new))
        return [(t, last.get(t.id, "new") if t.id in changed else _state_from_timestamps(t, at)) for t in rows]

    def requests_between(self, start: datetime, end: datetime) -> list[tuple[str, datetime]]:
        """(requester, created_at) of every ticket created in [start, end), any team."""
        table = schema.tickets
        query = sa.select(table.c.requester, table.c.created_at).where(
            table.c.created_at >= start, table.c.created_at < end
        )
        with self._engine.connect() as conn:
            return [(str(requester), created) for requester, created in conn.execute(query)]

    def searches_between(self, start: datetime, end: datetime) -> list[LoggedSearch]:
        """The searches logged in [start, end), in id order."""
        table = schema.search_log
        query = (
            sa.select(table.c.query, table.c.answered, table.c.top_ids, table.c.user, table.c.created_at)
            .where(table.c.created_at >= start, table.c.created_at < end)
            .order_by(table.c.id)
        )
        with self._engine.connect() as conn:
            return [
                LoggedSearch(
                    query=str(row.query),
                    answered=bool(row.answered),
                    top_ids=tuple(str(i) for i in row.top_ids or ()),
                    user=row.user,
                    created_at=row.created_at,
                )
                for row in conn.execute(query)
            ]

    def nps_between(self, start: datetime, end: datetime) -> list[NpsScore]:
        """The NPS answers given in [start, end), in id order."""
        table = schema.nps_responses
        query = (
            sa.select(table.c.score, table.c.team, table.c.at)
            .where(table.c.at >= start, table.c.at < end)
            .order_by(table.c.id)
        )
        with self._engine.connect() as conn:
            return [NpsScore(int(row.score), row.team, row.at) for row in conn.execute(query)]

    def feedback_counts(self, start: datetime, end: datetime) -> dict[str, dict[str, int]]:
        """article id → {kind: count} of the article feedback (views and votes) in [start, end). Views add up; of a
        user's votes on an article only the latest counts, wherever it falls: a store written before votes replaced
        each other (or by a bulk insert) may still hold several, and ten clicks are still one vote."""
        table = schema.article_feedback
        latest_votes = (
            sa.select(sa.func.max(table.c.id))
            .where(table.c.kind.in_(schema.VOTE_KINDS))
            .group_by(table.c.article_id, table.c.user)
        )
        query = (
            sa.select(table.c.article_id, table.c.kind, sa.func.count())
            .where(
                table.c.at >= start,
                table.c.at < end,
                sa.or_(table.c.kind.not_in(schema.VOTE_KINDS), table.c.id.in_(latest_votes)),
            )
            .group_by(table.c.article_id, table.c.kind)
        )
        counts: dict[str, dict[str, int]] = {}
        with self._engine.connect() as conn:
            for article_id, kind, count in conn.execute(query):
                counts.setdefault(str(article_id), {})[str(kind)] = int(count)
        return counts

    def article_catalogue(self) -> dict[str, CatalogueEntry]:
        """article id → its title, team, audience and status, for every article in the store (no bodies)."""
        table = schema.articles
        query = sa.select(
            table.c.id, table.c.title, table.c.team, table.c.audience, table.c.status, table.c.published_version
        )
        with self._engine.connect() as conn:
            return {
                str(row.id): CatalogueEntry(
                    title=str(row.title),
                    team=row.team,
                    audience=tuple(row.audience or ()),
                    # As employees see it: a published article with a newer draft is still published.
                    status="published"
                    if row.published_version is not None and row.status != "archived"
                    else row.status,
                )
                for row in conn.execute(query)
            }

    def ticket_count(self) -> int:
        with self._engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(schema.tickets)).scalar_one())

    def nps_quarters(self) -> set[tuple[str, str]]:
        """(user, quarter) of every stored NPS answer."""
        table = schema.nps_responses
        with self._engine.connect() as conn:
            return {(str(u), str(q)) for u, q in conn.execute(sa.select(table.c.user, table.c.quarter))}

    def _tickets(self, conditions: list[Any]) -> list[MeasuredTicket]:
        with self._engine.connect() as conn:
            rows = conn.execute(_select_tickets().where(*conditions).order_by(schema.tickets.c.id)).all()
        return [_measured(row) for row in rows]


def _select_tickets() -> sa.Select[Any]:
    """Only the columns a metric reads: no subjects, descriptions or comments."""
    t = schema.tickets.c
    return sa.select(
        t.id,
        t.requester,
        t.team,
        t.priority,
        t.status,
        t.created_at,
        t.expected_first_response_by,
        t.first_response_at,
        t.resolved_at,
        t.closed_at,
        t.pending_since,
        t.paused_hours,
        t.csat_score,
        t.csat_at,
    )


def _measured(row: Any) -> MeasuredTicket:
    return MeasuredTicket(
        id=int(row.id),
        requester=str(row.requester),
        team=str(row.team),
        priority=row.priority,
        status=row.status,
        created_at=row.created_at,
        expected_first_response_by=row.expected_first_response_by,
        first_response_at=row.first_response_at,
        resolved_at=row.resolved_at,
        closed_at=row.closed_at,
        pending_since=row.pending_since,
        paused_hours=row.paused_hours or 0.0,
        csat_score=None if row.csat_score is None else int(row.csat_score),
        csat_at=row.csat_at,
    )


def _state_from_timestamps(ticket: MeasuredTicket, at: datetime) -> Status:
    def by(value: datetime | None) -> bool:
        return value is not None and value <= at

    if by(ticket.closed_at):
        return "closed"
    if by(ticket.resolved_at):
        return "resolved"
    if by(ticket.pending_since):
        return "pending"
    return "open" if by(ticket.first_response_at) else "new"
