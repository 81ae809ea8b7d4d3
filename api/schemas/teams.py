from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from kb.teams.model import Priority
from kb.teams.schedule import DeskStatus, TeamStatus

_OPEN_NOW = "Open at the moment asked about (`at`, default now)."
_CLOSES_AT = "When open: the end of the current stretch of open time (UTC); null when closed or always open."
_NEXT_OPENING = "The start of the next open window after `at` (after the current one when open), in UTC."


class ChannelOut(BaseModel):
    kind: Literal["portal", "email", "chat", "phone"]
    address: str
    hours: str = Field(description="The hours as people read them, e.g. `desk hours` or `24/7 ...`.")
    schedule: dict[str, str] | None = Field(
        description="When the channel is staffed, per weekday; null: the desk hours, or always open for `24/7`."
    )
    open_now: bool = Field(description=_OPEN_NOW)
    closes_at: datetime | None = Field(description=_CLOSES_AT)
    next_opening: datetime | None = Field(description=_NEXT_OPENING)


class TeamOut(BaseModel):
    name: str
    description: str
    email: str
    timezone: str = Field(description="IANA timezone of the desk hours and holidays.")
    hours: dict[str, str] = Field(description="Open hours per weekday (`mon`..`sun`), e.g. `08:00-12:00, 13:00-17:00`.")
    holidays: list[date]
    channels: list[ChannelOut]
    first_response_hours: dict[Priority, float] = Field(description="First-response target per priority (business h).")
    resolution_hours: dict[Priority, float] = Field(description="Resolution target per priority (business hours).")
    keywords: list[str] = Field(description="Words that route a ticket to this team.")
    open_now: bool = Field(description=_OPEN_NOW)
    closes_at: datetime | None = Field(description=_CLOSES_AT)
    next_opening: datetime | None = Field(description=_NEXT_OPENING)

    @classmethod
    def of(cls, status: TeamStatus) -> TeamOut:
        team = status.team
        channels = [
            ChannelOut(**channel.model_dump(), **_status(channel_status))
            for channel, channel_status in zip(team.channels, status.channels, strict=True)
        ]
        return cls(**{**team.model_dump(), "channels": channels}, **_status(status.desk))


def _status(status: DeskStatus) -> dict[str, Any]:
    return {"open_now": status.open_now, "closes_at": status.closes_at, "next_opening": status.next_opening}


TEAM_EXAMPLE: dict[str, Any] = {
    "description": "Laptops, accounts, VPN and printers.",
    "email": "it-help@example.com",
    "timezone": "Europe/Lisbon",
    "hours": {day: "08:00-12:00, 13:00-18:00" for day in ("mon", "tue", "wed", "thu", "fri")},
    "holidays": ["2026-12-25"],
    "channels": [
        {"kind": "portal", "address": "/v1/tickets", "hours": "24/7 (answered in desk hours)"},
        {
            "kind": "phone",
            "address": "+351 21 000 1000",
            "hours": "Tue and Thu 10:00-12:00",
            "schedule": {"tue": "10:00-12:00", "thu": "10:00-12:00"},
        },
    ],
    "first_response_hours": {"urgent": 1, "high": 4, "normal": 8, "low": 16},
    "resolution_hours": {"urgent": 4, "high": 16, "normal": 40, "low": 80},
    "keywords": ["vpn", "laptop"],
}
