"""The audit log: who did what, when, from where."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, TypedDict

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from kb.store import schema


class AuditEntry(TypedDict):
    """One audit row. A typed dict rather than a dataclass: `kb audit --json` prints it as it is, one object a line,
    and readers (the CLI, tests) filter it by key; mypy still checks every key."""

    id: int
    at: datetime
    actor: str
    action: str
    target: str
    origin: str
    detail: dict[str, Any]  # the JSON column: what the action needs beyond its target (a role, a count...)


class AuditRepository:
    """Who did what, when, from where: sign-ins, permission and article changes, agents viewing tickets."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def add(self, *, actor: str, action: str, target: str = "", origin: str = "", **detail: Any) -> None:
        with self._engine.begin() as conn:
            conn.execute(
                sa.insert(schema.audit_log).values(
                    at=datetime.now(UTC), actor=actor, action=action, target=target, origin=origin, detail=detail
                )
            )

    def recent(self, limit: int = 100) -> list[AuditEntry]:
        """The newest `limit` entries, newest first."""
        table = schema.audit_log
        with self._engine.connect() as conn:
            rows = conn.execute(sa.select(table).order_by(table.c.id.desc()).limit(limit)).all()
        return [
            AuditEntry(
                id=row.id,
                at=row.at,
                actor=row.actor,
                action=row.action,
                target=row.target,
                origin=row.origin,
                detail=dict(row.detail or {}),
            )
            for row in rows
        ]
