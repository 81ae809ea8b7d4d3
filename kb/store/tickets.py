"""Tickets, their events, idempotency keys and ticket vectors: every write in one transaction."""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import numpy.typing as npt
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from kb.events import Announcement
from kb.store import schema
from kb.store.event_log import record
from kb.tickets.model import Ticket, TicketEvent


@dataclass(frozen=True)
class IdempotencyClaim:
    """Who sent which key for what: stored with the result, in the result's own transaction."""

    caller: str
    scope: str
    key: str
    request_hash: str


@dataclass(frozen=True)
class TicketFilter:
    requester: str | None = None
    teams: Collection[str] | None = None  # None: every team
    include_requester: str | None = None  # with `teams`: also this person's own tickets
    statuses: Collection[str] | None = None
    team: str | None = None
    priority: str | None = None
    assignee: str | None = None


class DuplicateKey(Exception):
    """Another request with the same idempotency key committed first."""


class StaleTicket(Exception):
    """The ticket changed between reading it and writing a change based on that read."""


class TicketRepository:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    # Tickets ----------------------------------------------------------------------------------------------
    def add(
        self,
        values: dict[str, Any],
        created: dict[str, Any],
        claim: IdempotencyClaim | None = None,
        announce: Sequence[Announcement] = (),
    ) -> tuple[Ticket, list[int]]:
        """The ticket, its `created` event, the idempotency key and the announced events, committed together
        (DuplicateKey if the key was claimed meanwhile: then nothing of this request is kept). Returns the
        ticket and the ids of the recorded events."""
        try:
            with self._engine.begin() as conn:
                result = conn.execute(sa.insert(schema.tickets).values(**values, version=0))
                ticket_id = int(result.inserted_primary_key[0])  # type: ignore[index]
                conn.execute(sa.insert(schema.ticket_events).values(ticket_id=ticket_id, **created))
                if claim is not None:
                    self._claim(conn, claim, ticket_id, values["created_at"])
                recorded = [record(conn, a, values["created_at"], ticket_id, None) for a in announce]
        except sa.exc.IntegrityError as exc:
            if claim is not None and self.claimed(claim) is not None:
                raise DuplicateKey from exc
            raise
        found = self.get(ticket_id)
        assert found is not None  # just committed
        return found, recorded

    def get(self, ticket_id: int) -> Ticket | None:
        with self._engine.connect() as conn:
            row = conn.execute(sa.select(schema.tickets).where(schema.tickets.c.id == ticket_id)).first()
        return Ticket.from_row(row._mapping) if row is not None else None

    def update(
        self,
        ticket_id: int,
        changes: dict[str, Any],
        events: list[dict[str, Any]],
        claim: IdempotencyClaim | None = None,
        *,
        version: int,
        announce: Sequence[Announcement] = (),
        at: datetime,
    ) -> tuple[int | None, list[int]]:
        """Apply `changes`, record `events` and the announcements together, if the ticket is still at `version`
        (StaleTicket otherwise: someone changed it since it was read). Returns the last event's id and the
        recorded events' ids."""
        table = schema.tickets
        last: int | None = None
        try:
            with self._engine.begin() as conn:
                current = sa.func.coalesce(table.c.version, 0)
                result = conn.execute(
                    sa.update(table)
                    .where(table.c.id == ticket_id, current == version)
                    .values(**changes, version=current + 1)
                )
                if result.rowcount != 1:
                    raise StaleTicket(ticket_id)
                for event in events:
                    inserted = conn.execute(sa.insert(schema.ticket_events).values(ticket_id=ticket_id, **event))
                    last = int(inserted.inserted_primary_key[0])  # type: ignore[index]
                if claim is not None:
                    assert last is not None
                    self._claim(conn, claim, last, at)
                recorded = [record(conn, a, at, ticket_id, last) for a in announce]
        except sa.exc.IntegrityError as exc:
            if claim is not None and self.claimed(claim) is not None:
                raise DuplicateKey from exc
            raise
        return last, recorded

    def find(self, where: TicketFilter) -> list[Ticket]:
        table = schema.tickets
        conditions: list[Any] = []
        if where.requester is not None:
            conditions.append(table.c.requester == where.requester)
        if where.teams is not None:
            visible: sa.ColumnElement[bool] = table.c.team.in_(list(where.teams))
            if where.include_requester is not None:
                visible = sa.or_(visible, table.c.requester == where.include_requester)
            conditions.append(visible)
        if where.statuses is not None:
            conditions.append(table.c.status.in_(list(where.statuses)))
        for column, value in (
            (table.c.team, where.team),
            (table.c.priority, where.priority),
            (table.c.assignee, where.assignee),
        ):
            if value is not None:
                conditions.append(column == value)
        query = sa.select(table).where(*conditions).order_by(table.c.id.desc())
        with self._engine.connect() as conn:
            return [Ticket.from_row(row._mapping) for row in conn.execute(query)]

    def resolved_before(self, cutoff: datetime) -> list[Ticket]:
        table = schema.tickets
        query = sa.select(table).where(table.c.status == "resolved", table.c.resolved_at < cutoff)
        with self._engine.connect() as conn:
            return [Ticket.from_row(row._mapping) for row in conn.execute(query)]

    # Events -----------------------------------------------------------------------------------------------
    def events(self, ticket_id: int, *, internal: bool) -> list[TicketEvent]:
        table = schema.ticket_events
        conditions = [table.c.ticket_id == ticket_id]
        if not internal:
            conditions.append(table.c.internal.is_(False))
        with self._engine.connect() as conn:
            rows = conn.execute(sa.select(table).where(*conditions).order_by(table.c.id)).all()
        return [TicketEvent.from_row(r._mapping) for r in rows]

    def event(self, event_id: int) -> TicketEvent | None:
        table = schema.ticket_events
        with self._engine.connect() as conn:
            row = conn.execute(sa.select(table).where(table.c.id == event_id)).first()
        return TicketEvent.from_row(row._mapping) if row else None

    # Idempotency ------------------------------------------------------------------------------------------
    def claimed(self, claim: IdempotencyClaim) -> tuple[str, int] | None:
        """(request hash, result id) stored under this caller's key, if any."""
        table = schema.idempotency_keys
        query = sa.select(table.c.request_hash, table.c.result_id).where(
            table.c.caller == claim.caller, table.c.scope == claim.scope, table.c.key == claim.key
        )
        with self._engine.connect() as conn:
            row = conn.execute(query).first()
        return (str(row[0]), int(row[1])) if row else None

    @staticmethod
    def _claim(conn: Connection, claim: IdempotencyClaim, result_id: int, at: datetime) -> None:
        conn.execute(
            sa.insert(schema.idempotency_keys).values(
                caller=claim.caller,
                scope=claim.scope,
                key=claim.key,
                request_hash=claim.request_hash,
                result_id=result_id,
                created_at=at,
            )
        )

    # Similar cases ----------------------------------------------------------------------------------------
    def put_vectors(self, model: str, vectors: dict[int, npt.NDArray[np.float32]]) -> None:
        table = schema.ticket_vectors
        with self._engine.begin() as conn:
            conn.execute(sa.delete(table).where(table.c.ticket_id.in_(list(vectors))))
            conn.execute(
                sa.insert(table),
                [
                    {"ticket_id": i, "model": model, "vector": v.astype(np.float32).tobytes()}
                    for i, v in vectors.items()
                ],
            )

    def without_vector(self, model: str, statuses: Collection[str]) -> list[Ticket]:
        """Tickets in `statuses` that have no vector for `model` yet."""
        table, vectors = schema.tickets, schema.ticket_vectors
        has_vector = sa.exists().where(vectors.c.ticket_id == table.c.id, vectors.c.model == model)
        query = sa.select(table).where(table.c.status.in_(list(statuses)), ~has_vector).order_by(table.c.id)
        with self._engine.connect() as conn:
            return [Ticket.from_row(row._mapping) for row in conn.execute(query)]

    def vectors(self, model: str, ticket_ids: Collection[int]) -> dict[int, npt.NDArray[np.float32]]:
        table = schema.ticket_vectors
        query = sa.select(table.c.ticket_id, table.c.vector).where(
            table.c.model == model, table.c.ticket_id.in_(list(ticket_ids))
        )
        with self._engine.connect() as conn:
            return {int(i): np.frombuffer(v, dtype=np.float32) for i, v in conn.execute(query)}

    def not_helpful_listings(self) -> Counter[str]:
        """How many tickets list each article among those that did not help their requester."""
        table = schema.tickets
        listed: Counter[str] = Counter()
        query = sa.select(table.c.not_helpful_article_ids).where(table.c.not_helpful_article_ids.is_not(None))
        with self._engine.connect() as conn:
            for (ids,) in conn.execute(query):
                listed.update(set(ids or []))
        return listed

    def filed_by(self, users: Collection[str], since: datetime) -> dict[str, list[datetime]]:
        """When each of `users` filed tickets since `since`, oldest first (for deflection)."""
        table = schema.tickets
        found: dict[str, list[datetime]] = {}
        if not users:
            return found
        query = (
            sa.select(table.c.requester, table.c.created_at)
            .where(table.c.requester.in_(list(users)), table.c.created_at >= since)
            .order_by(table.c.created_at)
        )
        with self._engine.connect() as conn:
            for requester, created_at in conn.execute(query):
                found.setdefault(requester, []).append(created_at)
        return found
