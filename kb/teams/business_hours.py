"""Business-hours arithmetic: when does N working hours from now end, in a team's own calendar?"""

from __future__ import annotations

import datetime as dt

from kb.teams.model import Team

# Beyond this many days without an open hour the calendar is treated as always open (misconfiguration guard).
_MAX_DAYS = 400


def add_business_hours(start: dt.datetime, hours: float, team: Team) -> dt.datetime:
    """The UTC instant at which `hours` of the team's open time have elapsed after `start` (aware)."""
    if start.tzinfo is None:
        raise ValueError("start must be timezone-aware")
    remaining = dt.timedelta(hours=hours)
    if not team.weekly_intervals:
        return (start + remaining).astimezone(dt.UTC)
    zone = team.zone
    holidays = set(team.holidays)
    cursor = start.astimezone(dt.UTC)
    day = start.astimezone(zone).date()
    for _ in range(_MAX_DAYS):
        if day not in holidays:
            for open_at, close_at in team.weekly_intervals.get(day.weekday(), []):
                # Arithmetic in UTC: subtracting two aware datetimes of one zone ignores DST shifts.
                window_start = dt.datetime.combine(day, open_at, tzinfo=zone).astimezone(dt.UTC)
                window_end = dt.datetime.combine(day, close_at, tzinfo=zone).astimezone(dt.UTC)
                begin = max(window_start, cursor)
                if begin >= window_end:
                    continue
                available = window_end - begin
                if remaining <= available:
                    return begin + remaining
                remaining -= available
                cursor = window_end
        day += dt.timedelta(days=1)
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
    holidays = set(team.holidays)
    total = dt.timedelta(0)
    day = start.astimezone(zone).date()
    last = end.astimezone(zone).date()
    while day <= last:
        if day not in holidays:
            for open_at, close_at in team.weekly_intervals.get(day.weekday(), []):
                window_start = dt.datetime.combine(day, open_at, tzinfo=zone).astimezone(dt.UTC)
                window_end = dt.datetime.combine(day, close_at, tzinfo=zone).astimezone(dt.UTC)
                overlap = min(window_end, end) - max(window_start, start)
                if overlap > dt.timedelta(0):
                    total += overlap
        day += dt.timedelta(days=1)
    return total.total_seconds() / 3600
