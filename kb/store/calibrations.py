"""The answer calibration shared by every server on one store: measured by the one doing the shared maintenance,
adopted by the others (kb.follower), so that every server decides to answer or not alike."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from kb.store import schema


@dataclass(frozen=True)
class StoredCalibration:
    seq: int
    data: dict[str, Any]


class CalibrationRepository:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def add(self, data: dict[str, Any], at: datetime) -> int:
        with self._engine.begin() as conn:
            result = conn.execute(sa.insert(schema.calibrations).values(measured_at=at, data=data))
            return int(result.inserted_primary_key[0])  # type: ignore[index]

    def latest(self) -> StoredCalibration | None:
        table = schema.calibrations
        with self._engine.connect() as conn:
            row = conn.execute(sa.select(table.c.seq, table.c.data).order_by(table.c.seq.desc()).limit(1)).first()
        return StoredCalibration(int(row.seq), dict(row.data)) if row is not None else None
