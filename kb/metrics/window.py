"""The window [start, end) the metrics cover, from what the caller gave: ISO 8601 texts (the API's query string,
`kb report`'s options) or aware datetimes (code), each bound optional."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from kb.errors import InvalidInput

DEFAULT_DAYS = 30
_EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
_LATEST = datetime(9000, 1, 1, tzinfo=UTC)
MAX_INSTANT_CHARS = 40  # the longest ISO 8601 instant with an offset and microseconds, with room

Bound = str | datetime | None


def parse_instant(text: str, name: str) -> datetime:
    """An ISO 8601 date (midnight UTC) or date and time (UTC when it has no offset), as an aware UTC datetime."""
    problem = (
        f"`{name}` must be an ISO 8601 date (2026-10-01, midnight UTC) or date and time "
        "(2026-10-01T09:30:00+01:00; UTC without an offset), between 1970 and 9000"
    )
    value = text.strip()
    if not value or len(value) > MAX_INSTANT_CHARS:
        raise InvalidInput(problem, field=name)
    try:
        parsed = datetime.fromisoformat(value)
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        parsed = parsed.astimezone(UTC)
    except (ValueError, OverflowError) as exc:
        raise InvalidInput(problem, field=name) from exc
    if not _EARLIEST <= parsed <= _LATEST:
        raise InvalidInput(problem, field=name)
    return parsed


def _instant(bound: str | datetime, name: str) -> datetime:
    if isinstance(bound, str):
        return parse_instant(bound, name)
    # A naive datetime from code is a programming error, not a user's input: no guess at its zone.
    if bound.tzinfo is None:
        raise ValueError("start and end must be timezone-aware")
    return bound.astimezone(UTC)


def metrics_window(start: Bound, end: Bound, now: datetime | None = None) -> tuple[datetime, datetime]:
    """[from, to) in UTC from the bounds given (texts or aware datetimes): `to` defaults to now, `from` to 30 days
    before `to`; from < to."""
    now = (now or datetime.now(UTC)).astimezone(UTC)
    stop = _instant(end, "to") if end is not None else now
    begin = _instant(start, "from") if start is not None else stop - timedelta(days=DEFAULT_DAYS)
    if begin >= stop:
        raise InvalidInput("`from` must be before `to`", field="from")
    return begin, stop
