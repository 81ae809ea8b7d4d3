"""Team calendars for the business-hours and schedule tests."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from kb.teams import Team
from kb.teams.model import Channel

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri")


def desk(
    timezone: str = "Europe/Lisbon",
    spec: str = "09:00-17:00",
    holidays: tuple[str, ...] = (),
    days: tuple[str, ...] = WEEKDAYS,
    channels: tuple[Channel, ...] = (),
) -> Team:
    """A team open `spec` on `days` in `timezone`, closed on `holidays` (ISO dates)."""
    return Team(
        name="Desk",
        timezone=timezone,
        hours=dict.fromkeys(days, spec),
        holidays=[dt.date.fromisoformat(d) for d in holidays],
        channels=list(channels),
    )


def local(zone: ZoneInfo, text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=zone)
