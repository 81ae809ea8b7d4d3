"""Leases: shared work that one server of several does at a time. A lease is a row naming its holder until it
expires; taking it is one compare-and-set (or an insert that loses to a concurrent one), so it works alike on
SQLite and PostgreSQL and needs no connection held open. A holder that dies simply lets it expire; one that stops
releases it. Times are each server's clock: servers sharing a store keep their clocks in step (NTP), as they must
for tickets' times anyway."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine

from kb.store import schema


class LeaseRepository:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def acquire(self, name: str, holder: str, ttl: timedelta, now: datetime) -> bool:
        """Take or renew the lease `name` for `ttl`; True if `holder` has it now."""
        table = schema.leases
        with self._engine.begin() as conn:
            taken = conn.execute(
                sa.update(table)
                .where(table.c.name == name, sa.or_(table.c.holder == holder, table.c.expires_at <= now))
                .values(holder=holder, expires_at=now + ttl)
            )
            if taken.rowcount == 1:
                return True
        # Nobody holds it yet: insert it, unless another server does so first (no error for PostgreSQL to log).
        insert = _insert_or_nothing(self._engine).values(name=name, holder=holder, expires_at=now + ttl)
        with self._engine.begin() as conn:
            inserted = insert.on_conflict_do_nothing(index_elements=["name"]).returning(schema.leases.c.name)
            return conn.execute(inserted).first() is not None

    def release(self, name: str, holder: str) -> None:
        table = schema.leases
        with self._engine.begin() as conn:
            conn.execute(sa.delete(table).where(table.c.name == name, table.c.holder == holder))


def _insert_or_nothing(engine: Engine) -> Any:
    """The dialect's INSERT, which knows ON CONFLICT DO NOTHING (SQLite and PostgreSQL both do)."""
    if engine.dialect.name == "postgresql":
        return postgresql.insert(schema.leases)
    return sqlite.insert(schema.leases)
