"""GET /v1/teams and /v1/teams/{name} (desk hours, channels, open now); PUT and PATCH for admins."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query, Response

from api.deps import KB, Reader
from api.schemas.teams import TEAM_EXAMPLE, TeamOut

router = APIRouter(prefix="/v1/teams", tags=["teams"])

TeamName = Annotated[str, Path(min_length=1, max_length=100, description="The team's name, in any case.")]
At = Annotated[
    datetime | None,
    Query(description="The moment `open_now`, `closes_at` and `next_opening` refer to (with a UTC offset); now."),
]


@router.get("", response_model=list[TeamOut], summary="Every team: hours, channels, targets, and open now or not")
def list_teams(kb: KB, reader: Reader, at: At = None) -> list[TeamOut]:
    return [TeamOut.of(status) for status in kb.team_statuses(at)]


@router.get("/{name}", response_model=TeamOut, summary="One team: hours, channels, targets, and open now or not")
def get_team(kb: KB, reader: Reader, name: TeamName, at: At = None) -> TeamOut:
    return TeamOut.of(kb.team_status(name, at))


@router.put(
    "/{name}",
    response_model=TeamOut,
    summary="Create or replace a team (admins)",
    responses={201: {"model": TeamOut, "description": "The team was created"}},
)
def put_team(
    kb: KB,
    reader: Reader,
    name: TeamName,
    response: Response,
    config: Annotated[
        dict[str, Any],
        Body(
            description="The whole team, as in the teams file (fields left out take their defaults; `name` is "
            "optional and may only change the case of the path's).",
            openapi_examples={"team": {"value": TEAM_EXAMPLE}},
        ),
    ],
) -> TeamOut:
    status, created = kb.put_team(name, config, reader)
    response.status_code = 201 if created else 200
    return TeamOut.of(status)


@router.patch("/{name}", response_model=TeamOut, summary="Change some of a team's fields (admins)")
def patch_team(
    kb: KB,
    reader: Reader,
    name: TeamName,
    changes: Annotated[
        dict[str, Any],
        Body(
            description="JSON Merge Patch: given fields replace the team's; objects (`hours`, targets) merge key "
            "by key and `null` removes a key; lists (`channels`, `holidays`) are replaced whole.",
            openapi_examples={"close on Fridays": {"value": {"hours": {"fri": None}}}},
        ),
    ],
) -> TeamOut:
    return TeamOut.of(kb.patch_team(name, changes, reader))
