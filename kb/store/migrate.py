"""Bring an older store up to the current schema: new tables are created, new (nullable) columns added.

Columns are only ever added, never changed or dropped, so this is all the migration kb needs so far.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Engine


def migrate(engine: Engine, metadata: sa.MetaData) -> None:
    metadata.create_all(engine)
    inspector = sa.inspect(engine)
    with engine.begin() as conn:
        for table in metadata.sorted_tables:
            present = {c["name"] for c in inspector.get_columns(table.name)}
            for column in table.columns:
                if column.name not in present and column.nullable:
                    kind = column.type.compile(dialect=engine.dialect)
                    conn.execute(sa.text(f'ALTER TABLE "{table.name}" ADD COLUMN "{column.name}" {kind}'))
