"""Teams as configured in the teams file (YAML), validated by pydantic so mistakes name the field."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from functools import cached_property
from itertools import pairwise
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from kb.errors import ConfigurationError

PRIORITIES = ("low", "normal", "high", "urgent")
Priority = Literal["low", "normal", "high", "urgent"]
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
Interval = tuple[dt.time, dt.time]
# Response and resolution targets, in business hours: positive, and at most about five working years.
TargetHours = Annotated[float, Field(gt=0, le=10_000)]


def _parse_intervals(spec: str) -> list[Interval]:
    """ "08:00-12:00, 13:00-17:00" → [(08:00, 12:00), (13:00, 17:00)]; a gap is a lunch break."""
    intervals: list[Interval] = []
    for part in spec.split(","):
        start_text, _, end_text = part.strip().partition("-")
        start, end = dt.time.fromisoformat(start_text.strip()), dt.time.fromisoformat(end_text.strip())
        if end <= start:
            raise ValueError(f"interval {part.strip()!r} ends before it starts")
        intervals.append((start, end))
    intervals.sort()
    # Overlaps would be counted twice by the business-hours arithmetic; touching intervals (12:00-14:00 after
    # 08:00-12:00) are fine. Sorted by start, any overlap shows between neighbours.
    for earlier, later in pairwise(intervals):
        if later[0] < earlier[1]:
            raise ValueError(f"intervals {_format(earlier)!r} and {_format(later)!r} overlap; merge them into one")
    return intervals


def _format(interval: Interval) -> str:
    def clock(t: dt.time) -> str:
        return t.isoformat("minutes" if not (t.second or t.microsecond) else "auto")

    return f"{clock(interval[0])}-{clock(interval[1])}"


def parse_weekly(hours: dict[str, str]) -> dict[int, list[Interval]]:
    """{"mon": "08:00-12:00, 13:00-17:00"} → {0: [(08:00, 12:00), (13:00, 17:00)]} (Monday is 0)."""
    return {WEEKDAYS.index(day): _parse_intervals(spec) for day, spec in hours.items()}


def _validate_weekly(value: dict[str, str]) -> dict[str, str]:
    for day, spec in value.items():
        if day not in WEEKDAYS:
            raise ValueError(f"unknown weekday {day!r}; use {', '.join(WEEKDAYS)}")
        _parse_intervals(spec)
    return value


class Channel(BaseModel):
    """A way to reach a team. `hours` is the label people read ("desk hours", "24/7 security desk", ...);
    `schedule`, when set, is when the channel is really staffed, in the team's timezone and holidays. Without
    a schedule the channel follows the desk hours, unless its label starts with "24/7" (always open)."""

    model_config = ConfigDict(frozen=True)  # `weekly_intervals` is cached

    kind: Literal["portal", "email", "chat", "phone"]
    address: str
    hours: str = "desk hours"
    schedule: dict[str, str] | None = None

    @field_validator("schedule")
    @classmethod
    def _valid_schedule(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        if value is None:
            return None
        if not value:
            raise ValueError("a schedule names at least one weekday; leave it out to follow the desk hours")
        return _validate_weekly(value)

    @cached_property
    def weekly_intervals(self) -> dict[int, list[Interval]]:
        """Weekday number (Monday 0) → the staffed intervals of that day; empty without a schedule."""
        return parse_weekly(self.schedule or {})

    @property
    def always_open(self) -> bool:
        return self.schedule is None and self.hours.strip().lower().startswith("24/7")


class Team(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str = Field(min_length=1, max_length=100)
    description: str = ""
    email: str = ""
    timezone: str = Field(default="UTC", max_length=64)  # the longest IANA key is about half that
    hours: dict[str, str] = Field(default_factory=dict)
    holidays: list[dt.date] = Field(default_factory=list)
    channels: list[Channel] = Field(default_factory=list)
    first_response_hours: dict[Priority, TargetHours] = Field(default_factory=dict)
    resolution_hours: dict[Priority, TargetHours] = Field(default_factory=dict)
    keywords: list[str] = Field(default_factory=list)

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except Exception as exc:
            # Not only ZoneInfoNotFoundError: a folder of the tz database ("Europe") raises IsADirectoryError, a
            # long key "file name too long", a file that is not a zone ValueError; each is a bad value, not a 500.
            raise ValueError(f"unknown timezone {value!r}") from exc
        return value

    @field_validator("hours")
    @classmethod
    def _valid_hours(cls, value: dict[str, str]) -> dict[str, str]:
        return _validate_weekly(value)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @cached_property
    def weekly_intervals(self) -> dict[int, list[Interval]]:
        """Weekday number (Monday 0) → the open intervals of that day."""
        return parse_weekly(self.hours)

    def first_response_target(self, priority: str) -> float:
        # A team that sets no target for a priority promises one business day.
        return float(self.first_response_hours.get(priority, 8.0))  # type: ignore[call-overload]

    def resolution_target(self, priority: str) -> float:
        # A team that sets no target for a priority promises a business week.
        return float(self.resolution_hours.get(priority, 40.0))  # type: ignore[call-overload]


class TeamDirectory:
    """The configured teams, looked up by name case-insensitively, each with the version of its stored edit (0:
    as in the teams file).

    Services share one directory; `put` and `replace` update it in place, so an edited team is seen by all of
    them at once. Each change swaps in a new mapping, so a reader iterating meanwhile sees the old teams or the
    new ones, and a team and its version are always read together. Another server may edit the teams meanwhile:
    the watcher (kb.teams.service.TeamService) is asked before every read, and reloads when they changed.
    """

    def __init__(self, teams: list[Team]) -> None:
        self._entries: dict[str, tuple[Team, int]] = {t.name.lower(): (t, 0) for t in teams}
        self._watcher: Callable[[], None] | None = None

    def watch(self, watcher: Callable[[], None]) -> None:
        """Call `watcher` before every read; it must be cheap (it runs for each ticket in a list) and must not
        read the directory itself except through `entries`."""
        self._watcher = watcher

    def _current(self) -> dict[str, tuple[Team, int]]:
        if self._watcher is not None:
            self._watcher()
        return self._entries

    def __iter__(self) -> Iterator[Team]:
        # The mapping is never changed in place (each change swaps in a new one): no copy needed.
        return (team for team, _ in self._current().values())

    def put(self, team: Team, version: int) -> None:
        """Add `team`, or replace the team of the same name (in any case) where it stood."""
        self._entries = {**self._entries, team.name.lower(): (team, version)}

    def replace(self, teams: list[tuple[Team, int]]) -> None:
        """Swap in a whole new set of teams (with their versions), in this order."""
        self._entries = {team.name.lower(): (team, version) for team, version in teams}

    def get(self, name: str) -> Team | None:
        entry = self._current().get(name.strip().lower())
        return None if entry is None else entry[0]

    def versioned(self, name: str) -> tuple[Team, int] | None:
        """The team `name` and the version of its stored edit, read together."""
        return self._current().get(name.strip().lower())

    def entries(self) -> list[tuple[Team, int]]:
        """Every team with its version, as it stands in memory (the watcher is not asked)."""
        return list(self._entries.values())

    def names(self) -> list[str]:
        return [team.name for team, _ in self._current().values()]


def load_teams(path: Path) -> TeamDirectory:
    if not path.is_file():
        raise ConfigurationError(f"teams file not found: {path}", field="teams_file")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        teams = [Team.model_validate(entry) for entry in data.get("teams", [])]
    except yaml.YAMLError as exc:
        raise ConfigurationError(f"{path}: invalid YAML: {exc}", field="teams_file") from exc
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ConfigurationError(f"{path}: {where}: {first['msg']}", field="teams_file") from exc
    if not teams:
        raise ConfigurationError(f"{path}: no teams defined", field="teams_file")
    return TeamDirectory(teams)
