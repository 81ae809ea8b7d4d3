"""The pending events: written inside the transaction of the change that raised them, dispatched after."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from kb.events import Announcement
from kb.store import schema


def record(
    conn: Connection, announcement: Announcement, at: datetime, ticket_id: int | None, event_id: int | None
) -> int:
    result = conn.execute(
        sa.insert(schema.pending_events).values(
            kind=announcement.kind,
            at=at,
            ticket_id=ticket_id,
            event_id=event_id if announcement.about_message else None,
            data=announcement.data,
        )
    )
    return int(result.inserted_primary_key[0])  # type: ignore[index]


class EventLogRepository:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def add(self, announcements: Sequence[Announcement], at: datetime) -> list[int]:
        """Record events that belong to no ticket change, in one transaction."""
        with self._engine.begin() as conn:
            return [record(conn, announcement, at, None, None) for announcement in announcements]

    def undispatched(
        self, ids: list[int] | None = None, recorded_before: datetime | None = None, *, without_ticket: bool = False
    ) -> list[dict[str, Any]]:
        table = schema.pending_events
        conditions: list[Any] = [table.c.dispatched_at.is_(None)]
        if without_ticket:
            conditions.append(table.c.ticket_id.is_(None))
        if ids is not None:
            conditions.append(table.c.id.in_(ids))
        if recorded_before is not None:
            conditions.append(table.c.at < recorded_before)
        with self._engine.connect() as conn:
            rows = conn.execute(sa.select(table).where(*conditions).order_by(table.c.id)).all()
        return [dict(r._mapping) for r in rows]

    def claim(self, event_id: int, now: datetime, until: datetime) -> bool:
        """Hold an undispatched event until `until`, unless another server holds it; True if this caller does.
        One that dies while holding it leaves it to be dispatched by another once the claim has passed."""
        table = schema.pending_events
        with self._engine.begin() as conn:
            taken = conn.execute(
                sa.update(table)
                .where(
                    table.c.id == event_id,
                    table.c.dispatched_at.is_(None),
                    sa.or_(table.c.claimed_until.is_(None), table.c.claimed_until <= now),
                )
                .values(claimed_until=until)
            )
        return bool(taken.rowcount == 1)

    def mark_dispatched(self, event_id: int, at: datetime) -> None:
        table = schema.pending_events
        with self._engine.begin() as conn:
            conn.execute(sa.update(table).where(table.c.id == event_id).values(dispatched_at=at))
