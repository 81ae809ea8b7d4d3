"""Writes a generated history straight into the schema's tables: back-dated rows that no production path writes
(a ticket created and resolved weeks ago, with its whole conversation), in batches, each batch in one
transaction, so the production repositories need no bulk-insert methods for the demo's sake."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from indexer.build import Progress
from kb.demo.history import GeneratedTicket, History, Row
from kb.store import schema

BATCH = 500  # tickets per transaction; the single-row tables take four times as many rows


def write_tickets(engine: Engine, tickets: list[GeneratedTicket]) -> None:
    """The tickets with their events, in one transaction."""
    with engine.begin() as conn:
        for values, events in tickets:
            ticket_id = int(conn.execute(sa.insert(schema.tickets).values(**values)).inserted_primary_key[0])  # type: ignore[index]
            if events:
                conn.execute(sa.insert(schema.ticket_events), [{**e, "ticket_id": ticket_id} for e in events])


def write_rows(engine: Engine, table: sa.Table, rows: list[Row]) -> None:
    """Rows of one table, in one transaction (for NPS answers, the caller keeps (user, quarter) unique)."""
    if rows:
        with engine.begin() as conn:
            conn.execute(sa.insert(table), rows)


def write_history(engine: Engine, history: History, progress: Progress | None = None) -> None:
    """Every row of `history`, tickets first, in batches (a batch is all or nothing)."""
    tickets = history.tickets
    if progress is not None:
        progress.start(len(tickets) + len(history.searches) + len(history.feedback) + len(history.nps))
    for offset in range(0, len(tickets), BATCH):
        batch = tickets[offset : offset + BATCH]
        write_tickets(engine, batch)
        if progress is not None:
            progress.advance(len(batch))
    for table, rows in (
        (schema.search_log, history.searches),
        (schema.article_feedback, history.feedback),
        (schema.nps_responses, history.nps),
    ):
        for offset in range(0, len(rows), BATCH * 4):
            chunk = rows[offset : offset + BATCH * 4]
            write_rows(engine, table, chunk)
            if progress is not None:
                progress.advance(len(chunk))
