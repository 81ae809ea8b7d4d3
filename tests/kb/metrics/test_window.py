"""The window [from, to) of the metrics (kb.metrics.window): texts from the API and the CLI, datetimes from code."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from kb.errors import InvalidInput
from kb.metrics import metrics_window


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_metrics_window_parses_and_validates() -> None:
    now = at("2026-11-20T12:00")
    assert metrics_window(None, None, now) == (now - timedelta(days=30), now)
    assert metrics_window("2026-10-01", "2026-11-01", now) == (at("2026-10-01T00:00"), at("2026-11-01T00:00"))
    assert metrics_window("2026-10-01T09:30:00+01:00", None, now) == (at("2026-10-01T08:30"), now)
    assert metrics_window(None, "2026-11-01T10:00", now) == (at("2026-10-02T10:00"), at("2026-11-01T10:00"))
    for start, end, field in (
        ("yesterday", None, "from"),
        (None, "2026-13-01", "to"),
        ("2026-11-01", "2026-11-01", "from"),
        ("2026-11-02", "2026-11-01", "from"),
        ("0001-01-01T00:00:00+01:00", None, "from"),
        (None, "9999-12-31", "to"),
        ("x" * 100, None, "from"),
    ):
        with pytest.raises(InvalidInput) as problem:
            metrics_window(start, end, now)
        assert problem.value.field == field


def test_metrics_window_takes_aware_datetimes_as_they_are_and_refuses_naive_ones() -> None:
    now = at("2026-11-20T12:00")
    lisbon_summer = timezone(timedelta(hours=1))
    start = datetime(2026, 10, 1, 9, 30, tzinfo=lisbon_summer)
    assert metrics_window(start, now, now) == (at("2026-10-01T08:30"), now)
    assert metrics_window(None, at("2026-11-01T10:00"), now) == (at("2026-10-02T10:00"), at("2026-11-01T10:00"))
    with pytest.raises(InvalidInput):
        metrics_window(now, now, now)
    with pytest.raises(ValueError, match="timezone-aware"):
        metrics_window(datetime(2026, 10, 1), None, now)  # the naive value is the point
