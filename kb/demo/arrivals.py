"""When generated tickets and searches arrive: every local hour of the span, weighted by desk, weekday, hour of
the day (a Monday-morning peak) and the desk's business hours and holidays."""

from __future__ import annotations

import random
from bisect import bisect_left
from datetime import UTC, datetime, time, timedelta

from kb.teams import Team

# Share of the tickets each starter team receives; any other configured team gets TEAM_WEIGHT_OTHER.
TEAM_WEIGHTS = {"it": 0.48, "hr": 0.2, "facilities": 0.19, "finance": 0.13}
TEAM_WEIGHT_OTHER = 0.1
DAY_WEIGHTS = (1.45, 1.1, 1.0, 0.95, 0.8, 0.05, 0.03)  # Monday first
HOUR_WEIGHTS = (
    *(0.02,) * 7,
    0.3,  # 07
    1.0,  # 08
    1.5,  # 09
    1.4,  # 10
    1.2,  # 11
    0.7,  # 12
    0.9,  # 13
    1.1,  # 14
    1.0,  # 15
    0.8,  # 16
    0.5,  # 17
    0.25,  # 18
    0.12,  # 19
    0.08,  # 20
    0.05,  # 21
    0.03,  # 22
    0.02,  # 23
)
MONDAY_MORNING = 1.5  # Monday 08:00-12:00 on top of the day and hour weights
OUTSIDE_HOURS = 0.12  # weight of an hour the desk is closed (tickets arrive anyway, a few)
HOLIDAY = 0.1


class ArrivalSlots:
    """When a team's tickets arrive: every local hour of the span, weighted by weekday, hour and desk hours."""

    def __init__(self, team: Team, start: datetime, end: datetime) -> None:
        zone = team.zone
        holidays = set(team.holidays)
        self.starts: list[datetime] = []
        cumulative: list[float] = []
        total = 0.0
        day = start.astimezone(zone).date()
        last = end.astimezone(zone).date()
        while day <= last:
            weekday = day.weekday()
            open_hours = team.weekly_intervals.get(weekday, [])
            for hour in range(24):
                at = datetime.combine(day, time(hour), tzinfo=zone).astimezone(UTC)
                if at < start or at + timedelta(hours=1) > end:
                    continue
                weight = DAY_WEIGHTS[weekday] * HOUR_WEIGHTS[hour]
                if weekday == 0 and 8 <= hour < 12:
                    weight *= MONDAY_MORNING
                inside = any(o.hour <= hour < (c.hour if c.minute == 0 else c.hour + 1) for o, c in open_hours)
                if not inside and team.weekly_intervals:
                    weight *= OUTSIDE_HOURS
                if day in holidays:
                    weight *= HOLIDAY
                total += weight
                self.starts.append(at)
                cumulative.append(total)
            day += timedelta(days=1)
        self._cumulative = cumulative

    def pick(self, rng: random.Random) -> datetime:
        index = bisect_left(self._cumulative, rng.random() * self._cumulative[-1])
        return self.starts[min(index, len(self.starts) - 1)] + timedelta(seconds=rng.randrange(3600))
