"""Leases: shared work that one server of several does at a time. A lease is a row naming its holder until it
expires; taking it is one compare-and-set (or an insert that loses to a concurrent one), so it works alike on
SQLite and PostgreSQL and needs no connection held open. A holder that dies simply lets it expire."""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
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
        try:
            with self._engine.begin() as conn:
                conn.execute(sa.insert(table).values(name=name, holder=holder, expires_at=now + ttl))
        except sa.exc.IntegrityError:  # another server holds it (or took it a moment ago)
            return False
        return True

    def release(self, name: str, holder: str) -> None:
        table = schema.leases
        with self._engine.begin() as conn:
            conn.execute(sa.delete(table).where(table.c.name == name, table.c.holder == holder))
