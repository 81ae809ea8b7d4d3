"""Webhooks and their durable outbox: registrations, one outbox row per (event, webhook), delivery bookkeeping.

Every time is stored in UTC. A row is claimed before it is sent (its `next_attempt_at` moves a lease ahead, on
the condition that nobody moved it first), so two delivery loops never send the same row at the same time and a
process that dies mid-send leaves the row due again once the lease has passed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from kb.store import schema


@dataclass(frozen=True)
class OutboxEntry:
    """A row to write: the webhook it goes to, the event kind and the JSON text of the envelope."""

    webhook_id: int
    event_kind: str
    payload: str


def _row(row: sa.Row[Any]) -> dict[str, Any]:
    return dict(row._mapping)


class WebhookRepository:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    # Registrations --------------------------------------------------------------------------------------
    def add(self, *, url: str, secret: str, events: Sequence[str], created_by: str, now: datetime) -> dict[str, Any]:
        table = schema.webhooks
        with self._engine.begin() as conn:
            result = conn.execute(
                sa.insert(table).values(
                    url=url,
                    secret=secret,
                    events=list(events),
                    created_by=created_by,
                    created_at=now,
                    active=True,
                )
            )
            webhook_id = int(result.inserted_primary_key[0])  # type: ignore[index]
        found = self.get(webhook_id)
        assert found is not None  # just committed
        return found

    def get(self, webhook_id: int) -> dict[str, Any] | None:
        """The webhook if it exists and is active."""
        table = schema.webhooks
        with self._engine.connect() as conn:
            row = conn.execute(sa.select(table).where(table.c.id == webhook_id, table.c.active.is_(True))).first()
        return _row(row) if row else None

    def active(self) -> list[dict[str, Any]]:
        table = schema.webhooks
        with self._engine.connect() as conn:
            rows = conn.execute(sa.select(table).where(table.c.active.is_(True)).order_by(table.c.id)).all()
        return [_row(r) for r in rows]

    def deactivate(self, webhook_id: int, now: datetime) -> bool:
        """Deactivate the webhook and give up its undelivered rows; False if there was no such active webhook."""
        webhooks, outbox = schema.webhooks, schema.webhook_outbox
        with self._engine.begin() as conn:
            result = conn.execute(
                sa.update(webhooks).where(webhooks.c.id == webhook_id, webhooks.c.active.is_(True)).values(active=False)
            )
            if result.rowcount != 1:
                return False
            conn.execute(
                sa.update(outbox)
                .where(outbox.c.webhook_id == webhook_id, outbox.c.delivered_at.is_(None))
                .values(next_attempt_at=None, last_error=f"webhook deleted at {now.isoformat()}")
            )
        return True

    # Outbox ---------------------------------------------------------------------------------------------
    def enqueue(self, entries: Sequence[OutboxEntry], now: datetime) -> list[int]:
        """Write the rows in one transaction, due at once; their ids."""
        at = now
        ids = []
        with self._engine.begin() as conn:
            for entry in entries:
                result = conn.execute(
                    sa.insert(schema.webhook_outbox).values(
                        webhook_id=entry.webhook_id,
                        event_kind=entry.event_kind,
                        payload=entry.payload,
                        created_at=at,
                        attempts=0,
                        next_attempt_at=at,
                    )
                )
                ids.append(int(result.inserted_primary_key[0]))  # type: ignore[index]
        return ids

    def due(self, now: datetime, limit: int = 100) -> list[dict[str, Any]]:
        """Undelivered rows of active webhooks whose next attempt is due, oldest first, with `url` and `secret`."""
        outbox, webhooks = schema.webhook_outbox, schema.webhooks
        query = (
            sa.select(outbox, webhooks.c.url, webhooks.c.secret)
            .join(webhooks, webhooks.c.id == outbox.c.webhook_id)
            .where(
                webhooks.c.active.is_(True),
                outbox.c.delivered_at.is_(None),
                outbox.c.next_attempt_at.is_not(None),
                outbox.c.next_attempt_at <= now,
            )
            .order_by(outbox.c.id)
            .limit(limit)
        )
        with self._engine.connect() as conn:
            rows = conn.execute(query).all()
        return [_row(r) for r in rows]

    def claim(self, outbox_id: int, seen_next_attempt_at: datetime, lease_until: datetime) -> bool:
        """Move the row's next attempt to `lease_until` if it is still as `due` saw it; True if this caller won."""
        outbox = schema.webhook_outbox
        with self._engine.begin() as conn:
            result = conn.execute(
                sa.update(outbox)
                .where(
                    outbox.c.id == outbox_id,
                    outbox.c.delivered_at.is_(None),
                    outbox.c.next_attempt_at == seen_next_attempt_at,
                )
                .values(next_attempt_at=lease_until)
            )
        return bool(result.rowcount == 1)

    def delivered(self, outbox_id: int, *, attempts: int, now: datetime) -> None:
        with self._engine.begin() as conn:
            conn.execute(
                sa.update(schema.webhook_outbox)
                .where(schema.webhook_outbox.c.id == outbox_id)
                .values(attempts=attempts, delivered_at=now, next_attempt_at=None, last_error=None)
            )

    def failed(self, outbox_id: int, *, attempts: int, next_attempt_at: datetime | None, error: str) -> None:
        """Record a failed attempt; `next_attempt_at` None gives the row up."""
        with self._engine.begin() as conn:
            conn.execute(
                sa.update(schema.webhook_outbox)
                .where(schema.webhook_outbox.c.id == outbox_id)
                .values(
                    attempts=attempts,
                    next_attempt_at=next_attempt_at if next_attempt_at is not None else None,
                    last_error=error,
                )
            )

    def depth(self) -> int:
        """Deliveries still to make: rows due now, leased by a sender or waiting for a retry. A row delivered, given
        up, or of a deleted webhook has no `next_attempt_at`, so the count reads that column's index only."""
        outbox = schema.webhook_outbox
        query = sa.select(sa.func.count()).select_from(outbox).where(outbox.c.next_attempt_at.is_not(None))
        with self._engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    def outbox(self, webhook_id: int, limit: int = 50) -> list[dict[str, Any]]:
        """The webhook's most recent outbox rows, newest first."""
        outbox = schema.webhook_outbox
        query = sa.select(outbox).where(outbox.c.webhook_id == webhook_id).order_by(outbox.c.id.desc()).limit(limit)
        with self._engine.connect() as conn:
            rows = conn.execute(query).all()
        return [_row(r) for r in rows]
