"""Business-hours arithmetic in a team's own calendar and timezone, answered as a UTC instant."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from kb.teams import Team, add_business_hours, business_hours_between
from tests.kb.teams.calendars import WEEKDAYS
from tests.kb.teams.calendars import desk as _team
from tests.kb.teams.calendars import local as _local

UTC = dt.UTC
LISBON = ZoneInfo("Europe/Lisbon")
WARSAW = ZoneInfo("Europe/Warsaw")


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


@pytest.mark.parametrize(
    "spec",
    ["08:00-12:00, 10:00-14:00", "13:00-17:00, 08:00-18:00", "09:00-12:00, 09:00-12:00", "08:00-12:00,11:59-13:00"],
)
def test_overlapping_intervals_are_refused(spec: str) -> None:
    """Overlaps would be counted twice by `business_hours_between` (8 h for 08:00-14:00) but once by
    `add_business_hours`: the two clocks would disagree, so such hours are refused when the team is built."""
    with pytest.raises(ValueError, match="overlap"):
        Team(name="Overlap", hours={"mon": spec})


def test_touching_intervals_count_once() -> None:
    team = _team(spec="08:00-12:00, 12:00-14:00")
    monday = "2026-01-12T"
    assert business_hours_between(_local(LISBON, monday + "07:00"), _local(LISBON, monday + "18:00"), team) == 6
    assert add_business_hours(_local(LISBON, monday + "07:00"), 6, team) == _local(LISBON, monday + "14:00")


@pytest.mark.parametrize("timezone", ["Europe", "a" * 300, "../etc/passwd", "zone.tab", ""])
def test_a_timezone_that_is_not_a_zone_is_an_unknown_timezone(timezone: str) -> None:
    """Not only missing keys: a folder of the tz database, an over-long key or a path all fail validation."""
    with pytest.raises(ValidationError, match="timezone"):
        Team(name="Nowhere", timezone=timezone)


# DST, both ways, both functions ------------------------------------------------------------------------------
# Lisbon: 01:00 WET -> 02:00 WEST on 29 March 2026, 02:00 WEST -> 01:00 WET on 25 October 2026.
# Warsaw: 02:00 CET -> 03:00 CEST on 29 March 2026, 03:00 CEST -> 02:00 CET on 25 October 2026.
@pytest.mark.parametrize(
    ("timezone", "start", "hours", "due"),
    [
        # Friday 16:00 local, 2 h: one on Friday, one from Monday 09:00 local, in the new offset.
        ("Europe/Lisbon", "2026-03-27T16:00", 2, "2026-03-30T09:00"),  # Monday 10:00 WEST
        ("Europe/Warsaw", "2026-03-27T15:00", 2, "2026-03-30T08:00"),  # Monday 10:00 CEST
        ("Europe/Lisbon", "2026-10-23T15:00", 2, "2026-10-26T10:00"),  # Monday 10:00 WET
        ("Europe/Warsaw", "2026-10-23T14:00", 2, "2026-10-26T09:00"),  # Monday 10:00 CET
        # A whole working week and a bit across each change.
        ("Europe/Lisbon", "2026-03-25T12:00", 40, "2026-04-01T11:00"),  # Wednesday 12:00 WEST
        ("Europe/Warsaw", "2026-10-21T10:00", 40, "2026-10-28T11:00"),  # Wednesday 12:00 CET
    ],
)
def test_dst_weekends_in_both_directions(timezone: str, start: str, hours: float, due: str) -> None:
    team = _team(timezone=timezone)
    begin = dt.datetime.fromisoformat(start).replace(tzinfo=UTC)
    end = dt.datetime.fromisoformat(due).replace(tzinfo=UTC)
    assert add_business_hours(begin, hours, team) == end
    assert business_hours_between(begin, end, team) == hours


@pytest.mark.parametrize(
    ("timezone", "saturday", "sunday_open", "sunday_close", "open_hours"),
    [
        ("Europe/Lisbon", "2026-03-28T12:00", "2026-03-29T00:00", "2026-03-29T05:00", 5),
        ("Europe/Warsaw", "2026-03-28T12:00", "2026-03-28T23:00", "2026-03-29T04:00", 5),
        ("Europe/Lisbon", "2026-10-24T12:00", "2026-10-24T23:00", "2026-10-25T06:00", 7),
        ("Europe/Warsaw", "2026-10-24T12:00", "2026-10-24T22:00", "2026-10-25T05:00", 7),
    ],
)
def test_a_night_window_shrinks_or_grows_with_the_clock_change(
    timezone: str, saturday: str, sunday_open: str, sunday_close: str, open_hours: float
) -> None:
    """Sunday 00:00-06:00 local holds 5 real hours when the clocks go forward and 7 when they go back."""
    team = _team(timezone=timezone, spec="00:00-06:00", days=("sun",))
    start = dt.datetime.fromisoformat(saturday).replace(tzinfo=UTC)
    opens = dt.datetime.fromisoformat(sunday_open).replace(tzinfo=UTC)
    closes = dt.datetime.fromisoformat(sunday_close).replace(tzinfo=UTC)

    assert business_hours_between(start, start + dt.timedelta(days=1), team) == open_hours
    assert business_hours_between(opens, closes, team) == open_hours
    assert add_business_hours(start, 0.5, team) == opens + dt.timedelta(minutes=30)
    assert add_business_hours(start, open_hours, team) == closes
    # One minute more is found a week later.
    assert add_business_hours(start, open_hours + 1 / 60, team) > closes + dt.timedelta(days=6)


def _grid(start: dt.datetime, days: int, step_minutes: int) -> list[dt.datetime]:
    return [start + dt.timedelta(minutes=m) for m in range(0, days * 24 * 60, step_minutes)]


@pytest.mark.parametrize("timezone", ["Europe/Lisbon", "Europe/Warsaw"])
@pytest.mark.parametrize("week", ["2026-03-25T00:00", "2026-10-21T00:00"])
def test_the_two_functions_are_inverses_across_dst(timezone: str, week: str) -> None:
    """Every 97 minutes of a DST week (lunch breaks, a Sunday shift, a holiday): counting the hours back from
    the due instant gives the hours added; and adding the hours counted up to an open instant reaches it."""
    team = _team(
        timezone=timezone,
        spec="08:00-12:00, 13:30-17:45",
        days=(*WEEKDAYS, "sun"),
        holidays=("2026-03-27", "2026-10-23"),
    )
    instants = _grid(dt.datetime.fromisoformat(week).replace(tzinfo=UTC), days=7, step_minutes=97)
    for start in instants:
        for hours in (0.25, 1, 2.75, 8, 13.5, 40):
            due = add_business_hours(start, hours, team)
            assert business_hours_between(start, due, team) == pytest.approx(hours), (start, hours)
        for end in instants:
            if end <= start or business_hours_between(end, end + dt.timedelta(minutes=1), team) == 0:
                continue  # a closed instant is not reached by adding hours: the last closing time is
            reached = add_business_hours(start, business_hours_between(start, end, team), team)
            assert abs(reached - end) < dt.timedelta(milliseconds=1), (start, end)


# Holidays and lunch breaks, counted -----------------------------------------------------------------------------
def test_holidays_are_not_counted_between() -> None:
    team = _team(holidays=("2026-12-24", "2026-12-25"))
    # Wednesday 16:00 to Monday 11:00: 1 h on Wednesday, 2 h on Monday.
    assert business_hours_between(_local(LISBON, "2026-12-23T16:00"), _local(LISBON, "2026-12-28T11:00"), team) == 3
    assert business_hours_between(_local(LISBON, "2026-12-24T09:00"), _local(LISBON, "2026-12-25T17:00"), team) == 0


def test_lunch_breaks_are_not_counted_between() -> None:
    team = _team(spec="09:00-12:00,13:00-17:00")
    monday = "2026-01-12T"
    assert business_hours_between(_local(LISBON, monday + "11:00"), _local(LISBON, monday + "14:00"), team) == 2
    assert business_hours_between(_local(LISBON, monday + "12:15"), _local(LISBON, monday + "14:00"), team) == 1
    assert business_hours_between(_local(LISBON, monday + "12:05"), _local(LISBON, monday + "12:55"), team) == 0
    assert business_hours_between(_local(LISBON, monday + "08:00"), _local(LISBON, monday + "18:00"), team) == 7


def test_a_request_on_a_holiday_friday_waits_for_monday() -> None:
    # Friday 25 December 2026 is a holiday, then comes the weekend.
    team = _team(holidays=("2026-12-25",))
    friday = _local(LISBON, "2026-12-25T10:00")

    assert add_business_hours(friday, 2, team).astimezone(LISBON) == _local(LISBON, "2026-12-28T11:00")
    assert business_hours_between(friday, _local(LISBON, "2026-12-28T09:00"), team) == 0
    assert business_hours_between(friday, _local(LISBON, "2026-12-28T11:00"), team) == 2

    # A desk whose holidays run Thursday to Saturday (HR's Christmas, in Warsaw) answers on Monday too.
    hr = _team(timezone="Europe/Warsaw", holidays=("2026-12-24", "2026-12-25", "2026-12-26"))
    thursday = _local(WARSAW, "2026-12-24T09:30")
    assert add_business_hours(thursday, 2, hr) == dt.datetime(2026, 12, 28, 10, 0, tzinfo=UTC)  # 11:00 CET


def test_the_same_instant_in_two_teams_calendars() -> None:
    """Friday 14:30 UTC: the Lisbon desk (08:00-17:00 on Fridays) has 2.5 h left; the Warsaw desk
    (09:00-15:00 on Fridays, 15:30 there) has closed for the weekend."""
    lisbon = Team(
        name="IT", timezone="Europe/Lisbon", hours={**dict.fromkeys(WEEKDAYS, "08:00-18:00"), "fri": "08:00-17:00"}
    )
    warsaw = Team(
        name="HR", timezone="Europe/Warsaw", hours={**dict.fromkeys(WEEKDAYS, "09:00-17:00"), "fri": "09:00-15:00"}
    )
    friday = dt.datetime(2026, 1, 16, 14, 30, tzinfo=UTC)
    monday_noon = dt.datetime(2026, 1, 19, 12, 0, tzinfo=UTC)

    assert add_business_hours(friday, 2, lisbon) == dt.datetime(2026, 1, 16, 16, 30, tzinfo=UTC)
    assert add_business_hours(friday, 2, warsaw) == dt.datetime(2026, 1, 19, 10, 0, tzinfo=UTC)  # 11:00 CET
    assert business_hours_between(friday, monday_noon, lisbon) == 2.5 + 4  # Monday 08:00-12:00 UTC
    assert business_hours_between(friday, monday_noon, warsaw) == 4  # Monday 09:00-13:00 CET
    # In summer the offsets differ (UTC+1 and UTC+2), and so do the answers.
    summer = dt.datetime(2026, 7, 17, 13, 30, tzinfo=UTC)  # 14:30 in Lisbon, 15:30 in Warsaw
    assert add_business_hours(summer, 2, lisbon) == dt.datetime(2026, 7, 17, 15, 30, tzinfo=UTC)
    assert add_business_hours(summer, 2, warsaw) == dt.datetime(2026, 7, 20, 9, 0, tzinfo=UTC)  # 11:00 CEST


def test_between_is_zero_backwards_and_refuses_naive_instants() -> None:
    start = _local(LISBON, "2026-01-13T10:00")
    assert business_hours_between(start, start - dt.timedelta(hours=3), _team()) == 0
    assert business_hours_between(start, start, _team()) == 0
    with pytest.raises(ValueError, match="timezone-aware"):
        business_hours_between(dt.datetime(2026, 1, 13, 10, 0), start, _team())
