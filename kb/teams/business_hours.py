"""Business-hours arithmetic: when does N working hours from now end, in a team's own calendar?"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterator, Mapping, Sequence
from zoneinfo import ZoneInfo

from kb.teams.model import Interval, Team

# Beyond this many days without an open hour a calendar is treated as having none ahead: the business-hours
# clock then runs in calendar time and the desk has no next opening (misconfiguration guard). A year and a bit
# covers any weekly calendar with holidays.
MAX_DAYS = 400


def open_windows(
    zone: ZoneInfo,
    weekly: Mapping[int, Sequence[Interval]],
    holidays: Collection[dt.date],
    first: dt.date,
    days: int | None = None,
) -> Iterator[tuple[dt.datetime, dt.datetime]]:
    """The open windows [open, close) in UTC, local day by local day from `first` (for `days` days; None: no
    limit), skipping holidays. A local time is placed with `fold=0`: a time skipped by a DST change counts in the
    offset before it, and an ambiguous one is its first occurrence.

    The arithmetic on these instants is done in UTC: subtracting two aware datetimes of one zone ignores DST
    shifts."""
    closed = frozenset(holidays)
    day = first
    count = 0
    while days is None or count < days:
        if day not in closed:
            for open_at, close_at in weekly.get(day.weekday(), ()):
                yield (
                    dt.datetime.combine(day, open_at, tzinfo=zone).astimezone(dt.UTC),
                    dt.datetime.combine(day, close_at, tzinfo=zone).astimezone(dt.UTC),
                )
        if day == dt.date.max:
            return
        day += dt.timedelta(days=1)
        count += 1


def _team_windows(team: Team, start: dt.datetime, days: int | None) -> Iterator[tuple[dt.datetime, dt.datetime]]:
    """The team's open windows from the local day of `start` on."""
    zone = team.zone
    return open_windows(zone, team.weekly_intervals, team.holidays, start.astimezone(zone).date(), days)


def add_business_hours(start: dt.datetime, hours: float, team: Team) -> dt.datetime:
    """The UTC instant at which `hours` of the team's open time have elapsed after `start` (aware)."""
    if start.tzinfo is None:
        raise ValueError("start must be timezone-aware")
    remaining = dt.timedelta(hours=hours)
    if not team.weekly_intervals:
        return (start + remaining).astimezone(dt.UTC)
    cursor = start.astimezone(dt.UTC)
    for window_start, window_end in _team_windows(team, start, MAX_DAYS):
        begin = max(window_start, cursor)
        if begin >= window_end:
            continue
        available = window_end - begin
        if remaining <= available:
            return begin + remaining
        remaining -= available
        cursor = window_end
    return (cursor + remaining).astimezone(dt.UTC)


def business_hours_between(start: dt.datetime, end: dt.datetime, team: Team) -> float:
    """Hours of the team's open time between two aware instants (0 when `end` is not after `start`).

    The inverse of `add_business_hours`: response and handle times, and the SLA clock, are measured with it.
    """
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("start and end must be timezone-aware")
    start, end = start.astimezone(dt.UTC), end.astimezone(dt.UTC)
    if end <= start:
        return 0.0
    if not team.weekly_intervals:
        return (end - start).total_seconds() / 3600
    zone = team.zone
    # Every local day from the one of `start` to the one of `end`, however many.
    days = (end.astimezone(zone).date() - start.astimezone(zone).date()).days + 1
    total = dt.timedelta(0)
    for window_start, window_end in _team_windows(team, start, days):
        overlap = min(window_end, end) - max(window_start, start)
        if overlap > dt.timedelta(0):
            total += overlap
    return total.total_seconds() / 3600


def first_response_due(team: Team, opened: dt.datetime, priority: str) -> dt.datetime:
    """When `team` promises a first response to a ticket of `priority` opened at `opened` (aware)."""
    return add_business_hours(opened, team.first_response_target(priority), team)
