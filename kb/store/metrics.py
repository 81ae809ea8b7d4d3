"""Read-only queries behind the service metrics (kb.metrics): tickets by any of their timestamps, the state of
every ticket at a past moment (replayed from its history), who asked for help when, and article feedback counts.

Every instant passed in is converted to UTC first: SQLite keeps datetimes without their offset.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from kb.store import schema
from kb.store.tickets import _ticket
from kb.store.timestamps import utc

TicketTime = Literal["created_at", "resolved_at", "closed_at", "csat_at", "first_response_at"]


class MetricsRepository:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def tickets_between(
        self, column: TicketTime, start: datetime, end: datetime, teams: Collection[str] | None = None
    ) -> list[dict[str, Any]]:
        """Tickets whose `column` falls in [start, end), of `teams` (None: every team), oldest id first."""
        table = schema.tickets
        conditions: list[Any] = [table.c[column] >= start, table.c[column] < end]
        if teams is not None:
            conditions.append(table.c.team.in_(list(teams)))
        with self._engine.connect() as conn:
            rows = conn.execute(sa.select(table).where(*conditions).order_by(table.c.id)).all()
        return [_ticket(row) for row in rows]

    def active(self, teams: Collection[str] | None = None) -> list[dict[str, Any]]:
        """Tickets whose current status is new, open or pending."""
        table = schema.tickets
        conditions: list[Any] = [table.c.status.in_(["new", "open", "pending"])]
        if teams is not None:
            conditions.append(table.c.team.in_(list(teams)))
        with self._engine.connect() as conn:
            rows = conn.execute(sa.select(table).where(*conditions).order_by(table.c.id)).all()
        return [_ticket(row) for row in rows]

    def statuses_at(self, at: datetime, teams: Collection[str] | None = None) -> list[tuple[dict[str, Any], str]]:
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
            rows = [_ticket(row) for row in conn.execute(sa.select(tickets).where(*conditions).order_by(tickets.c.id))]
            history = conn.execute(changes).all()
        changed: set[int] = set()
        last: dict[int, str] = {}
        for ticket_id, when, new in history:
            changed.add(int(ticket_id))
            if when <= at:
                last[int(ticket_id)] = str(new)
        return [(t, last.get(t["id"], "new") if t["id"] in changed else _state_from_timestamps(t, at)) for t in rows]

    def requests_between(self, start: datetime, end: datetime) -> list[tuple[str, datetime]]:
        """(requester, created_at) of every ticket created in [start, end), any team."""
        table = schema.tickets
        query = sa.select(table.c.requester, table.c.created_at).where(
            table.c.created_at >= start, table.c.created_at < end
        )
        with self._engine.connect() as conn:
            return [(str(requester), created) for requester, created in conn.execute(query)]

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

    def article_catalogue(self) -> dict[str, dict[str, Any]]:
        """article id → {title, team, audience, status} of every article in the store (no bodies)."""
        table = schema.articles
        query = sa.select(table.c.id, table.c.title, table.c.team, table.c.audience, table.c.status)
        with self._engine.connect() as conn:
            return {
                str(row.id): {
                    "title": row.title,
                    "team": row.team,
                    "audience": list(row.audience or []),
                    "status": row.status,
                }
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


def _state_from_timestamps(ticket: dict[str, Any], at: datetime) -> str:
    def by(key: str) -> bool:
        value = ticket.get(key)
        return value is not None and value <= at

    if by("closed_at"):
        return "closed"
    if by("resolved_at"):
        return "resolved"
    if by("pending_since"):
        return "pending"
    return "open" if by("first_response_at") else "new"
