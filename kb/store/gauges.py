"""Counts read at each scrape of GET /metrics: one indexed query each, nothing that grows with the tables' history."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from kb.store import schema


def webhook_outbox_depth(engine: Engine) -> int:
    """Webhook deliveries still to make: outbox rows due now, leased by a sender or waiting for a retry. A row
    delivered, given up, or of a deleted webhook has no `next_attempt_at` (kb.store.webhooks), so the count reads
    the `next_attempt_at` index only, however many delivered rows the outbox keeps."""
    outbox = schema.webhook_outbox
    query = sa.select(sa.func.count()).select_from(outbox).where(outbox.c.next_attempt_at.is_not(None))
    with engine.connect() as conn:
        return int(conn.execute(query).scalar_one())
