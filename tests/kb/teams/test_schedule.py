"""Open now, closing time and next opening of a desk and its channels, in the team's timezone and calendar."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml
from pydantic import ValidationError

from kb.errors import ConfigurationError
from kb.teams import Team, add_business_hours, business_hours_between, load_teams
from kb.teams.model import Channel
from kb.teams.schedule import DeskStatus, channel_status, desk_status, is_open, next_opening, team_status
from tests.conftest import STARTER_ARTICLES
from tests.kb.teams.calendars import WEEKDAYS, desk
from tests.kb.teams.calendars import local as _local

UTC = dt.UTC
LISBON = ZoneInfo("Europe/Lisbon")
WARSAW = ZoneInfo("Europe/Warsaw")
LUNCH = "09:00-12:00, 13:00-17:00"


def _team(timezone: str = "Europe/Lisbon", spec: str = LUNCH, **fields: Any) -> Team:
    return desk(timezone, spec, **fields)


def _utc(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=UTC)


# The desk -----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("local", "expected"),
    [
        # Tuesday 13 January 2026, Lisbon in winter (UTC+0).
        ("2026-01-13T08:59", DeskStatus(False, None, _utc("2026-01-13T09:00"))),
        ("2026-01-13T09:00", DeskStatus(True, _utc("2026-01-13T12:00"), _utc("2026-01-13T13:00"))),
        ("2026-01-13T11:59", DeskStatus(True, _utc("2026-01-13T12:00"), _utc("2026-01-13T13:00"))),
        # Lunch: closed, back at 13:00.
        ("2026-01-13T12:00", DeskStatus(False, None, _utc("2026-01-13T13:00"))),
        ("2026-01-13T12:30", DeskStatus(False, None, _utc("2026-01-13T13:00"))),
        ("2026-01-13T16:59", DeskStatus(True, _utc("2026-01-13T17:00"), _utc("2026-01-14T09:00"))),
        ("2026-01-13T17:00", DeskStatus(False, None, _utc("2026-01-14T09:00"))),
        # Friday evening and the weekend wait for Monday.
        ("2026-01-16T16:00", DeskStatus(True, _utc("2026-01-16T17:00"), _utc("2026-01-19T09:00"))),
        ("2026-01-16T17:30", DeskStatus(False, None, _utc("2026-01-19T09:00"))),
        ("2026-01-17T10:00", DeskStatus(False, None, _utc("2026-01-19T09:00"))),
        ("2026-01-18T23:59", DeskStatus(False, None, _utc("2026-01-19T09:00"))),
    ],
)
def test_desk_status_through_a_week_with_a_lunch_break(local: str, expected: DeskStatus) -> None:
    at = _local(LISBON, local)
    assert desk_status(_team(), at) == expected
    assert is_open(_team(), at) is expected.open_now
    assert next_opening(_team(), at) == expected.next_opening


def test_answers_are_utc_whatever_the_zone_of_the_question() -> None:
    at = _local(ZoneInfo("America/New_York"), "2026-01-13T05:30")  # 10:30 in Lisbon
    status = desk_status(_team(), at)
    assert status.open_now
    assert status.closes_at is not None and status.closes_at.utcoffset() == dt.timedelta(0)
    assert status.closes_at == _utc("2026-01-13T12:00")


def test_touching_intervals_are_one_stretch_of_open_time() -> None:
    team = _team(spec="08:00-12:00, 12:00-14:00, 14:30-17:00")
    status = desk_status(team, _local(LISBON, "2026-01-13T10:00"))
    assert status == DeskStatus(True, _utc("2026-01-13T14:00"), _utc("2026-01-13T14:30"))


def test_holidays_are_closed_all_day() -> None:
    # Friday 25 December 2026 is a holiday, then comes the weekend.
    team = _team(holidays=("2026-12-25",))
    assert desk_status(team, _local(LISBON, "2026-12-24T16:00")) == DeskStatus(
        True, _utc("2026-12-24T17:00"), _utc("2026-12-28T09:00")
    )
    assert desk_status(team, _local(LISBON, "2026-12-25T10:00")) == DeskStatus(False, None, _utc("2026-12-28T09:00"))
    # Without the holiday the Friday is an ordinary day.
    assert is_open(_team(), _local(LISBON, "2026-12-25T10:00"))


def test_a_team_without_hours_is_always_open() -> None:
    team = Team(name="Always", timezone="Europe/Warsaw")
    for at in (_utc("2026-01-17T03:00"), _utc("2026-03-29T01:30"), _utc("2026-12-25T12:00")):
        assert desk_status(team, at) == DeskStatus(True, None, None)


def test_a_naive_instant_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        desk_status(_team(), dt.datetime(2026, 1, 13, 10, 0))


# Timezones and DST ------------------------------------------------------------------------------------------
def test_the_same_instant_is_open_in_lisbon_and_closed_in_warsaw() -> None:
    at = _utc("2026-01-14T16:30")  # 16:30 in Lisbon, 17:30 in Warsaw
    lisbon, warsaw = _team("Europe/Lisbon", "09:00-17:00"), _team("Europe/Warsaw", "09:00-17:00")
    assert desk_status(lisbon, at) == DeskStatus(True, _utc("2026-01-14T17:00"), _utc("2026-01-15T09:00"))
    assert desk_status(warsaw, at) == DeskStatus(False, None, _utc("2026-01-15T08:00"))


@pytest.mark.parametrize(
    ("zone", "friday", "monday_opening"),
    [
        # Spring forward on Sunday 29 March 2026: the Monday opening is an hour earlier in UTC.
        ("Europe/Lisbon", "2026-03-27T18:00", "2026-03-30T08:00"),  # 09:00 WEST
        ("Europe/Warsaw", "2026-03-27T18:00", "2026-03-30T07:00"),  # 09:00 CEST
        # Fall back on Sunday 25 October 2026: an hour later.
        ("Europe/Lisbon", "2026-10-23T18:00", "2026-10-26T09:00"),  # 09:00 WET
        ("Europe/Warsaw", "2026-10-23T18:00", "2026-10-26T08:00"),  # 09:00 CET
    ],
)
def test_the_next_opening_after_a_dst_weekend(zone: str, friday: str, monday_opening: str) -> None:
    status = desk_status(_team(zone), _local(ZoneInfo(zone), friday))
    assert status == DeskStatus(False, None, _utc(monday_opening))
    assert status.next_opening is not None
    assert status.next_opening.astimezone(ZoneInfo(zone)).hour == 9


def test_a_night_window_across_the_spring_forward() -> None:
    # Lisbon jumps from 01:00 WET to 02:00 WEST: a Sunday window 00:00-06:00 is 00:00-05:00 UTC.
    team = _team(spec="00:00-06:00", days=("sun",))
    assert desk_status(team, _utc("2026-03-28T23:59")) == DeskStatus(False, None, _utc("2026-03-29T00:00"))
    assert desk_status(team, _utc("2026-03-29T01:30")) == DeskStatus(  # 02:30 WEST
        True, _utc("2026-03-29T05:00"), _utc("2026-04-04T23:00")
    )
    assert not is_open(team, _utc("2026-03-29T05:00"))  # 06:00 WEST


def test_a_night_window_across_the_fall_back_in_warsaw() -> None:
    # Warsaw falls back from 03:00 CEST to 02:00 CET: a Sunday window 00:00-06:00 is 22:00-05:00 UTC.
    team = _team("Europe/Warsaw", spec="00:00-06:00", days=("sun",))
    assert desk_status(team, _utc("2026-10-24T21:59")) == DeskStatus(False, None, _utc("2026-10-24T22:00"))
    assert desk_status(team, _utc("2026-10-25T01:30")) == DeskStatus(
        True, _utc("2026-10-25T05:00"), _utc("2026-10-31T23:00")
    )


def _instants(start: dt.datetime, days: int, step_minutes: int) -> list[dt.datetime]:
    return [start + dt.timedelta(minutes=m) for m in range(0, days * 24 * 60, step_minutes)]


@pytest.mark.parametrize(
    ("zone", "week"),
    [
        ("Europe/Lisbon", "2026-03-25T00:00"),
        ("Europe/Warsaw", "2026-03-25T00:00"),
        ("Europe/Lisbon", "2026-10-21T00:00"),
        ("Europe/Warsaw", "2026-10-21T00:00"),
    ],
)
def test_open_now_agrees_with_the_business_hours_clock(zone: str, week: str) -> None:
    """Around each DST change, every 25 minutes: open exactly when business time passes; when closed, the
    business-hours clock restarts at the next opening; when open, the current stretch ends at `closes_at`."""
    team = _team(zone, spec="08:00-12:00, 13:30-17:45", days=(*WEEKDAYS, "sun"), holidays=("2026-03-27",))
    for at in _instants(_utc(week), days=7, step_minutes=25):
        status = desk_status(team, at)
        minute = dt.timedelta(minutes=1)
        assert status.open_now is (business_hours_between(at, at + minute, team) > 0), at
        if status.open_now:
            assert status.closes_at is not None
            left = (status.closes_at - at).total_seconds() / 3600
            assert business_hours_between(at, status.closes_at, team) == pytest.approx(left)
            assert add_business_hours(at, left, team) == status.closes_at
        else:
            assert status.next_opening is not None
            assert add_business_hours(at, 0.25, team) == status.next_opening + dt.timedelta(minutes=15), at


# Channels ---------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def starter_teams() -> dict[str, Team]:
    return {team.name: team for team in load_teams(STARTER_ARTICLES / "teams.yaml")}


def test_hr_phone_line_keeps_its_own_hours(starter_teams: dict[str, Team]) -> None:
    hr = starter_teams["HR"]
    phone = next(c for c in hr.channels if c.kind == "phone")
    assert phone.schedule == {"tue": "10:00-12:00", "thu": "10:00-12:00"}
    assert phone.hours == "Tue and Thu 10:00-12:00"  # the label people read is unchanged

    tuesday = _local(WARSAW, "2026-01-13T10:30")  # 09:30 UTC
    assert channel_status(hr, phone, tuesday) == DeskStatus(True, _utc("2026-01-13T11:00"), _utc("2026-01-15T09:00"))
    wednesday = _local(WARSAW, "2026-01-14T10:30")
    assert is_open(hr, wednesday)  # the desk is open ...
    assert channel_status(hr, phone, wednesday) == DeskStatus(False, None, _utc("2026-01-15T09:00"))  # ... not the line
    # 24-26 December are HR holidays: the Thursday line is closed too; next is Tuesday 29th.
    christmas_eve = _local(WARSAW, "2026-12-24T10:30")
    assert channel_status(hr, phone, christmas_eve) == DeskStatus(False, None, _utc("2026-12-29T09:00"))


def test_channels_follow_the_desk_unless_24_7(starter_teams: dict[str, Team]) -> None:
    sunday_night = _utc("2026-01-18T02:00")
    facilities = starter_teams["Facilities"]
    status = team_status(facilities, sunday_night)
    assert not status.desk.open_now
    by_kind = dict(zip([c.kind for c in facilities.channels], status.channels, strict=True))
    assert by_kind["portal"] == DeskStatus(True, None, None)  # "24/7 (answered in desk hours)"
    assert by_kind["phone"] == DeskStatus(True, None, None)  # "24/7 security desk ..."
    assert by_kind["email"] == status.desk == by_kind["chat"]  # "desk hours"


def test_a_channel_schedule_is_validated() -> None:
    with pytest.raises(ValidationError, match="unknown weekday"):
        Channel(kind="phone", address="1", schedule={"tues": "10:00-12:00"})
    with pytest.raises(ValidationError, match="ends before it starts"):
        Channel(kind="phone", address="1", schedule={"tue": "12:00-10:00"})
    with pytest.raises(ValidationError, match="at least one weekday"):
        Channel(kind="phone", address="1", schedule={})
    with pytest.raises(ValidationError, match="overlap"):
        Channel(kind="phone", address="1", schedule={"tue": "10:00-12:00, 11:00-13:00"})
    # A schedule wins over a "24/7" label.
    channel = Channel(kind="chat", address="#x", hours="24/7", schedule={"mon": "10:00-11:00"})
    assert not channel_status(_team(), channel, _local(LISBON, "2026-01-13T10:30")).open_now


@pytest.mark.parametrize(
    ("entry", "where", "what"),
    [
        ({"hours": {"mon": "08:00-12:00, 10:00-14:00"}}, "hours", "overlap"),
        (
            {"channels": [{"kind": "phone", "address": "1", "schedule": {"tue": "10:00-12:00, 11:00-13:00"}}]},
            "channels.0.schedule",
            "overlap",
        ),
        ({"timezone": "Europe"}, "timezone", "unknown timezone"),
    ],
)
def test_a_bad_teams_file_is_a_configuration_error_naming_the_file(
    tmp_path: Path, entry: dict[str, object], where: str, what: str
) -> None:
    path = tmp_path / "teams.yaml"
    path.write_text(yaml.safe_dump({"teams": [{"name": "X", **entry}]}), encoding="utf-8")
    with pytest.raises(ConfigurationError) as raised:
        load_teams(path)
    message = str(raised.value)
    assert message.startswith(f"{path}: {where}: ") and what in message, message
    assert raised.value.field == "teams_file"
