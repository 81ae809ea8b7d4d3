"""Team overrides: teams edited through the API, kept whole (one row per team) and applied over the teams file.

Several servers may share the table, so every write is a compare-and-set on the row's `version`: it succeeds only
over the version the edit was merged into, and a lost race is reported (StaleVersion) instead of overwriting the
other server's edit. Versions are per row; `generation` sums them so that any write anywhere changes it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from kb.store import schema

# A row written before versions existed has none: it has been written once.
_version = sa.func.coalesce(schema.team_overrides.c.version, 1)


class StaleVersion(Exception):
    """The stored override is not at the version the write expected: another edit got there first."""


def _key(name: str) -> str:
    return name.strip().lower()


def _row(row: sa.Row[Any]) -> dict[str, Any]:
    return dict(row._mapping)


def _columns() -> list[Any]:
    table = schema.team_overrides
    return [table.c.name, table.c.config, table.c.updated_at, table.c.updated_by, _version.label("version")]


class TeamOverrideRepository:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def all(self) -> list[dict[str, Any]]:
        """Every override ({name, config, updated_at, updated_by, version}), oldest edit first."""
        table = schema.team_overrides
        with self._engine.connect() as conn:
            rows = conn.execute(sa.select(*_columns()).order_by(table.c.updated_at, table.c.name)).all()
        return [_row(r) for r in rows]

    def get(self, name: str) -> dict[str, Any] | None:
        """The override of the team `name` (case-insensitive) as stored now, or None."""
        table = schema.team_overrides
        with self._engine.connect() as conn:
            row = conn.execute(sa.select(*_columns()).where(table.c.name == _key(name))).first()
        return None if row is None else _row(row)

    def generation(self) -> tuple[int, int]:
        """(rows, sum of versions): changes with every write, since a write adds a row or raises a version. One
        small aggregate, cheap enough to ask before using teams that another server may have edited."""
        table = schema.team_overrides
        query = sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(_version), 0)).select_from(table)
        with self._engine.connect() as conn:
            count, total = conn.execute(query).one()
        return int(count), int(total)

    def put(
        self, name: str, config: dict[str, Any], *, expected: int, updated_by: str, now: datetime | None = None
    ) -> int:
        """Store `config` as the team `name` (case-insensitive) if its override is still at version `expected`
        (0: there is none yet) and return the new version; otherwise raise StaleVersion and change nothing.

        The check and the write are one statement (UPDATE ... WHERE version = expected), so two servers cannot
        both pass it; two first edits of one team both INSERT, and the primary key refuses the second."""
        table = schema.team_overrides
        values = {"config": config, "updated_at": now or datetime.now(UTC), "updated_by": updated_by}
        version = expected + 1
        try:
            with self._engine.begin() as conn:
                if expected == 0:
                    conn.execute(sa.insert(table).values(name=_key(name), version=version, **values))
                    return version
                updated = conn.execute(
                    sa.update(table)
                    .where(table.c.name == _key(name), _version == expected)
                    .values(version=version, **values)
                )
                if updated.rowcount != 1:
                    raise StaleVersion(f"team override {_key(name)!r} is no longer at version {expected}")
                return version
        except sa.exc.IntegrityError as exc:  # outside the transaction: PostgreSQL aborts it on the error
            raise StaleVersion(f"team override {_key(name)!r} was created meanwhile") from exc
