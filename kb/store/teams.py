"""Team overrides: teams edited through the API, kept whole (one row per team) and applied over the teams file."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from kb.store import schema


def _key(name: str) -> str:
    return name.strip().lower()


def _row(row: sa.Row[Any]) -> dict[str, Any]:
    return dict(row._mapping)


class TeamOverrideRepository:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def all(self) -> list[dict[str, Any]]:
        """Every override ({name, config, updated_at, updated_by}), oldest edit first."""
        table = schema.team_overrides
        with self._engine.connect() as conn:
            rows = conn.execute(sa.select(table).order_by(table.c.updated_at, table.c.name)).all()
        return [_row(r) for r in rows]

    def put(self, name: str, config: dict[str, Any], *, updated_by: str, now: datetime | None = None) -> None:
        """Store `config` as the team `name` (case-insensitive), replacing any earlier override, in one
        transaction (delete + insert: portable, unlike each database's own upsert)."""
        table = schema.team_overrides
        with self._engine.begin() as conn:
            conn.execute(sa.delete(table).where(table.c.name == _key(name)))
            conn.execute(
                sa.insert(table).values(
                    name=_key(name), config=config, updated_at=now or datetime.now(UTC), updated_by=updated_by
                )
            )
