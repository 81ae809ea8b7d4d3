"""Business-hours arithmetic in a team's own calendar and timezone, answered as a UTC instant."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from kb.teams import Team, add_business_hours

UTC = dt.UTC
LISBON = ZoneInfo("Europe/Lisbon")
WARSAW = ZoneInfo("Europe/Warsaw")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri")


def _team(
    timezone: str = "Europe/Lisbon",
    spec: str = "09:00-17:00",
    holidays: tuple[str, ...] = (),
    days: tuple[str, ...] = WEEKDAYS,
) -> Team:
    return Team(
        name="Desk",
        timezone=timezone,
        hours=dict.fromkeys(days, spec),
        holidays=[dt.date.fromisoformat(d) for d in holidays],
    )


def _local(zone: ZoneInfo, text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=zone)


def test_friday_afternoon_rolls_over_the_weekend_to_monday() -> None:
    friday = _local(LISBON, "2026-01-16T16:30")  # winter: Lisbon is UTC+0

    due = add_business_hours(friday, 2, _team())

    assert due.tzinfo is not None
    assert due.utcoffset() == dt.timedelta(0)
    assert due.astimezone(LISBON) == _local(LISBON, "2026-01-19T10:30")  # Monday


def test_request_inside_hours_just_adds_them() -> None:
    tuesday = _local(LISBON, "2026-01-13T10:00")
    assert add_business_hours(tuesday, 3, _team()).astimezone(LISBON) == _local(LISBON, "2026-01-13T13:00")


@pytest.mark.parametrize("start", ["2026-01-17T11:00", "2026-01-18T23:59", "2026-01-16T17:00"])
def test_weekend_and_after_hours_requests_start_counting_on_monday_morning(start: str) -> None:
    due = add_business_hours(_local(LISBON, start), 1.5, _team())
    assert due.astimezone(LISBON) == _local(LISBON, "2026-01-19T10:30")


def test_request_before_opening_starts_at_opening() -> None:
    early = _local(LISBON, "2026-01-13T06:00")
    assert add_business_hours(early, 1, _team()).astimezone(LISBON) == _local(LISBON, "2026-01-13T10:00")


def test_holidays_are_skipped() -> None:
    team = _team(holidays=("2026-12-24", "2026-12-25"))
    wednesday = _local(LISBON, "2026-12-23T16:00")

    due = add_business_hours(wednesday, 3, team)

    # 1 h on Wednesday, Thursday and Friday are holidays, the weekend is closed: 2 h on Monday.
    assert due.astimezone(LISBON) == _local(LISBON, "2026-12-28T11:00")


def test_lunch_break_is_not_counted() -> None:
    team = _team(spec="09:00-12:00,13:00-17:00")

    assert add_business_hours(_local(LISBON, "2026-01-12T11:00"), 2, team).astimezone(LISBON) == _local(
        LISBON, "2026-01-12T14:00"
    )
    # Asked during lunch: the clock starts at 13:00.
    assert add_business_hours(_local(LISBON, "2026-01-12T12:15"), 1, team).astimezone(LISBON) == _local(
        LISBON, "2026-01-12T14:00"
    )


def test_spring_forward_week_in_lisbon() -> None:
    # Clocks go from 01:00 WET to 02:00 WEST on Sunday 29 March 2026.
    friday = dt.datetime(2026, 3, 27, 16, 0, tzinfo=UTC)  # 16:00 in Lisbon (UTC+0)

    due = add_business_hours(friday, 2, _team())

    # 1 h on Friday, 1 h from Monday 09:00 WEST (08:00 UTC).
    assert due == dt.datetime(2026, 3, 30, 9, 0, tzinfo=UTC)
    assert due.astimezone(LISBON).hour == 10


def test_fall_back_week_in_lisbon() -> None:
    # Clocks go from 02:00 WEST back to 01:00 WET on Sunday 25 October 2026.
    friday = dt.datetime(2026, 10, 23, 15, 0, tzinfo=UTC)  # 16:00 in Lisbon (UTC+1)

    due = add_business_hours(friday, 2, _team())

    assert due == dt.datetime(2026, 10, 26, 10, 0, tzinfo=UTC)  # Monday 10:00 WET


def test_a_window_spanning_the_spring_forward_is_one_hour_shorter() -> None:
    team = _team(spec="00:00-06:00", days=("sun",))
    saturday = dt.datetime(2026, 3, 28, 12, 0, tzinfo=UTC)

    # 00:00 WET is 00:00 UTC, 06:00 WEST is 05:00 UTC: that Sunday has 5 real open hours.
    assert add_business_hours(saturday, 5, team) == dt.datetime(2026, 3, 29, 5, 0, tzinfo=UTC)
    # The next half hour comes a week later, at 00:30 summer time (23:30 UTC on Saturday).
    assert add_business_hours(saturday, 5.5, team) == dt.datetime(2026, 4, 4, 23, 30, tzinfo=UTC)


def test_a_window_spanning_the_fall_back_is_one_hour_longer() -> None:
    team = _team(spec="00:00-06:00", days=("sun",))
    saturday = dt.datetime(2026, 10, 24, 12, 0, tzinfo=UTC)

    # 00:00 WEST is 23:00 UTC the day before, 06:00 WET is 06:00 UTC: 7 real open hours.
    assert add_business_hours(saturday, 7, team) == dt.datetime(2026, 10, 25, 6, 0, tzinfo=UTC)


def test_the_team_timezone_is_honoured() -> None:
    team = _team(timezone="Europe/Warsaw")
    request = dt.datetime(2026, 1, 14, 8, 30, tzinfo=UTC)  # 09:30 in Warsaw (UTC+1)

    due = add_business_hours(request, 2, team)

    assert due == dt.datetime(2026, 1, 14, 10, 30, tzinfo=UTC)
    assert due.astimezone(WARSAW) == _local(WARSAW, "2026-01-14T11:30")


def test_the_team_timezone_is_honoured_in_summer() -> None:
    team = _team(timezone="Europe/Warsaw")
    request = dt.datetime(2026, 7, 15, 8, 30, tzinfo=UTC)  # 10:30 in Warsaw (UTC+2)

    assert add_business_hours(request, 2, team) == dt.datetime(2026, 7, 15, 10, 30, tzinfo=UTC)


def test_a_request_after_closing_in_local_time_waits_for_the_next_day() -> None:
    team = _team(timezone="Europe/Warsaw")
    request = dt.datetime(2026, 1, 14, 16, 30, tzinfo=UTC)  # 17:30 in Warsaw: closed

    assert add_business_hours(request, 1, team) == dt.datetime(2026, 1, 15, 9, 0, tzinfo=UTC)  # 10:00 local


def test_team_without_hours_counts_wall_clock_time() -> None:
    team = Team(name="Always", timezone="UTC")
    start = dt.datetime(2026, 1, 17, 22, 0, tzinfo=UTC)
    assert add_business_hours(start, 4, team) == dt.datetime(2026, 1, 18, 2, 0, tzinfo=UTC)


def test_naive_start_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        add_business_hours(dt.datetime(2026, 1, 12, 10, 0), 1, _team())


def test_invalid_hours_are_refused_when_the_team_is_built() -> None:
    with pytest.raises(ValueError, match="ends before it starts"):
        Team(name="Backwards", hours={"mon": "17:00-09:00"})
    with pytest.raises(ValueError, match="unknown weekday"):
        Team(name="Funday", hours={"fun": "09:00-17:00"})
    with pytest.raises(ValueError, match="unknown timezone"):
        Team(name="Nowhere", timezone="Mars/Olympus_Mons")
