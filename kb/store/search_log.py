"""The search log: one row per search, written on every search (through the engine that does not flush each
commit), read by the metrics."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from kb.store import schema


class SearchLogRepository:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def add(
        self,
        *,
        query: str,
        answered: bool,
        confidence: float,
        top_ids: list[str],
        latency_ms: float,
        user: str | None = None,
    ) -> None:
        with self._engine.begin() as conn:
            conn.execute(
                sa.insert(schema.search_log).values(
                    query=query,
                    answered=answered,
                    confidence=confidence,
                    top_ids=top_ids,
                    latency_ms=latency_ms,
                    user=user,
                    created_at=datetime.now(UTC),
                )
            )

    def recent(self, limit: int = 100) -> list[dict[str, Any]]:
        table = schema.search_log
        with self._engine.connect() as conn:
            rows = conn.execute(sa.select(table).order_by(table.c.id.desc()).limit(limit)).all()
        return [dict(r._mapping) for r in rows]

    def unanswered_since(self, since: datetime) -> list[str]:
        """The queries of the searches kb had no answer for since `since`: the knowledge gaps' material."""
        table = schema.search_log
        query = sa.select(table.c.query).where(table.c.answered.is_(False), table.c.created_at >= since)
        with self._engine.connect() as conn:
            return [row.query for row in conn.execute(query)]
