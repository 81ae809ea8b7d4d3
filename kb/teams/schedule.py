"""Is a desk (or one of its channels) open at an instant, when does it close, and when does it open next?

Pure functions over a Team and an aware datetime; answers are UTC. The open windows are the ones the
business-hours clock walks (`open_windows`), so "open now" and the business-hours clock always agree.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from kb.teams.business_hours import MAX_DAYS, open_windows
from kb.teams.model import Channel, Interval, Team


@dataclass(frozen=True)
class DeskStatus:
    """`closes_at` is set when open (the end of the current stretch of open time, across touching intervals);
    `next_opening` is the start of the next open window after now, or after the current one when open.
    Always-open desks and channels have neither."""

    open_now: bool
    closes_at: dt.datetime | None = None
    next_opening: dt.datetime | None = None


ALWAYS_OPEN = DeskStatus(open_now=True)


@dataclass(frozen=True)
class TeamStatus:
    """A team, its desk's status and each of its channels' status (in the order of `team.channels`)."""

    team: Team
    desk: DeskStatus
    channels: tuple[DeskStatus, ...]


def desk_status(team: Team, at: dt.datetime) -> DeskStatus:
    """The desk's status at `at` (aware). A team with no hours is always open."""
    return _status(team.zone, team.weekly_intervals, frozenset(team.holidays), at)


def is_open(team: Team, at: dt.datetime) -> bool:
    return desk_status(team, at).open_now


def next_opening(team: Team, at: dt.datetime) -> dt.datetime | None:
    """The start of the next open window after `at` (after the current one if the desk is open), in UTC."""
    return desk_status(team, at).next_opening


def channel_status(team: Team, channel: Channel, at: dt.datetime) -> DeskStatus:
    """A channel with a schedule keeps it (in the team's timezone, closed on its holidays); a "24/7" one is
    always open; any other follows the desk hours."""
    if channel.always_open:
        return ALWAYS_OPEN
    if channel.schedule is None:
        return desk_status(team, at)
    return _status(team.zone, channel.weekly_intervals, frozenset(team.holidays), at)


def team_status(team: Team, at: dt.datetime) -> TeamStatus:
    return TeamStatus(team, desk_status(team, at), tuple(channel_status(team, c, at) for c in team.channels))


def _status(
    zone: ZoneInfo, weekly: dict[int, list[Interval]], holidays: frozenset[dt.date], at: dt.datetime
) -> DeskStatus:
    if at.tzinfo is None:
        raise ValueError("at must be timezone-aware")
    if not weekly:
        return ALWAYS_OPEN
    now = at.astimezone(dt.UTC)
    closes_at: dt.datetime | None = None
    # Looking at most MAX_DAYS ahead for the next opening.
    for start, end in _merged(open_windows(zone, weekly, holidays, now.astimezone(zone).date(), MAX_DAYS)):
        if end <= now:
            continue
        if closes_at is None and start <= now:
            closes_at = end  # open now: the opening wanted is the one after this stretch
            continue
        return DeskStatus(open_now=closes_at is not None, closes_at=closes_at, next_opening=start)
    return DeskStatus(open_now=closes_at is not None, closes_at=closes_at)


def _merged(windows: Iterator[tuple[dt.datetime, dt.datetime]]) -> Iterator[tuple[dt.datetime, dt.datetime]]:
    """Touching or overlapping windows joined: "08:00-12:00, 12:00-17:00" is one stretch of open time."""
    current: tuple[dt.datetime, dt.datetime] | None = None
    for start, end in windows:
        if current is not None and start <= current[1]:
            current = (current[0], max(current[1], end))
            continue
        if current is not None:
            yield current
        current = (start, end)
    if current is not None:
        yield current
