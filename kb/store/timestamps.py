"""Times are stored in UTC: one column type converts on the way in and tags on the way out.

SQLite keeps no offset, so without it every repository would have to convert aware values before writing
and tag naive ones after reading (and a `+02:00` value would be stored as its local wall-clock time).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa


def utc(value: datetime) -> datetime:
    """`value` in UTC; a naive value is taken to be UTC already."""
    return value.astimezone(UTC) if value.tzinfo is not None else value.replace(tzinfo=UTC)


class UtcDateTime(sa.TypeDecorator[datetime]):
    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else utc(value)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else utc(value)
