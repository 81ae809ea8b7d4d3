"""Teams as configured in the teams file (YAML), validated by pydantic so mistakes name the field."""

from __future__ import annotations

import datetime as dt
from functools import cached_property
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from kb.errors import ConfigurationError

PRIORITIES = ("low", "normal", "high", "urgent")
Priority = Literal["low", "normal", "high", "urgent"]
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
Interval = tuple[dt.time, dt.time]


def _parse_intervals(spec: str) -> list[Interval]:
    """ "08:00-12:00, 13:00-17:00" → [(08:00, 12:00), (13:00, 17:00)]; a gap is a lunch break."""
    intervals: list[Interval] = []
    for part in spec.split(","):
        start_text, _, end_text = part.strip().partition("-")
        start, end = dt.time.fromisoformat(start_text.strip()), dt.time.fromisoformat(end_text.strip())
        if end <= start:
            raise ValueError(f"interval {part.strip()!r} ends before it starts")
        intervals.append((start, end))
    return sorted(intervals)


class Channel(BaseModel):
    kind: Literal["portal", "email", "chat", "phone"]
    address: str
    hours: str = "desk hours"


class Team(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    description: str = ""
    email: str = ""
    timezone: str = "UTC"
    hours: dict[str, str] = Field(default_factory=dict)
    holidays: list[dt.date] = Field(default_factory=list)
    channels: list[Channel] = Field(default_factory=list)
    first_response_hours: dict[Priority, float] = Field(default_factory=dict)
    resolution_hours: dict[Priority, float] = Field(default_factory=dict)
    keywords: list[str] = Field(default_factory=list)

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown timezone {value!r}") from exc
        return value

    @field_validator("hours")
    @classmethod
    def _valid_hours(cls, value: dict[str, str]) -> dict[str, str]:
        for day, spec in value.items():
            if day not in WEEKDAYS:
                raise ValueError(f"unknown weekday {day!r}; use {', '.join(WEEKDAYS)}")
            _parse_intervals(spec)
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @cached_property
    def weekly_intervals(self) -> dict[int, list[Interval]]:
        """Weekday number (Monday 0) → the open intervals of that day."""
        return {WEEKDAYS.index(day): _parse_intervals(spec) for day, spec in self.hours.items()}

    def first_response_target(self, priority: str) -> float:
        # A team that sets no target for a priority promises one business day.
        return float(self.first_response_hours.get(priority, 8.0))  # type: ignore[call-overload]


class TeamDirectory:
    """The configured teams, looked up by name case-insensitively."""

    def __init__(self, teams: list[Team]) -> None:
        self._teams = {t.name.lower(): t for t in teams}

    def __iter__(self) -> Any:
        return iter(self._teams.values())

    def get(self, name: str) -> Team | None:
        return self._teams.get(name.strip().lower())

    def names(self) -> list[str]:
        return [t.name for t in self._teams.values()]


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
