"""GET /v1/teams and /v1/teams/{name} (desk hours, channels, open now); PUT and PATCH for admins.

One team's read and edits carry its `ETag`; an edit may send it back in `If-Match` to be refused (412) if the team
changed since it was read, on this server or another.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Header, Path, Query, Response

from api.deps import KB, Reader
from api.preconditions import PRECONDITION_FAILED, entity_tags
from api.schemas.teams import TEAM_EXAMPLE, TeamOut

router = APIRouter(prefix="/v1/teams", tags=["teams"])

TeamName = Annotated[str, Path(min_length=1, max_length=100, description="The team's name, in any case.")]
At = Annotated[
    datetime | None,
    Query(description="The moment `open_now`, `closes_at` and `next_opening` refer to (with a UTC offset); now."),
]
IfMatch = Annotated[
    str | None,
    Header(
        alias="If-Match",
        description="The team's `ETag` from a GET or an earlier edit (or `*`: any existing team): the edit is "
        "made only if the team is still as it was then, else 412 and nothing changes.",
    ),
]
ETAG = {
    "ETag": {
        "description": "The team's version; send it in `If-Match` to edit only that version.",
        "schema": {"type": "string"},
    }
}


@router.get("", response_model=list[TeamOut], summary="Every team: hours, channels, targets, and open now or not")
def list_teams(kb: KB, reader: Reader, at: At = None) -> list[TeamOut]:
    return [TeamOut.of(status) for status in kb.teams.statuses(at)]


@router.get(
    "/{name}",
    response_model=TeamOut,
    summary="One team: hours, channels, targets, and open now or not",
    responses={200: {"headers": ETAG}},
)
def get_team(kb: KB, reader: Reader, name: TeamName, response: Response, at: At = None) -> TeamOut:
    view = kb.teams.status(name, at)
    response.headers["ETag"] = view.etag
    return TeamOut.of(view.status)


@router.put(
    "/{name}",
    response_model=TeamOut,
    summary="Create or replace a team (admins)",
    responses={
        200: {"headers": ETAG},
        201: {"model": TeamOut, "description": "The team was created", "headers": ETAG},
        **PRECONDITION_FAILED,
    },
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
    if_match: IfMatch = None,
) -> TeamOut:
    view, created = kb.teams.replace(name, config, reader, if_match=entity_tags(if_match))
    response.status_code = 201 if created else 200
    response.headers["ETag"] = view.etag
    return TeamOut.of(view.status)


@router.patch(
    "/{name}",
    response_model=TeamOut,
    summary="Change some of a team's fields (admins)",
    responses={200: {"headers": ETAG}, **PRECONDITION_FAILED},
)
def patch_team(
    kb: KB,
    reader: Reader,
    name: TeamName,
    response: Response,
    changes: Annotated[
        dict[str, Any],
        Body(
            description="JSON Merge Patch: given fields replace the team's; objects (`hours`, targets) merge key "
            "by key and `null` removes a key; lists (`channels`, `holidays`) are replaced whole.",
            openapi_examples={"close on Fridays": {"value": {"hours": {"fri": None}}}},
        ),
    ],
    if_match: IfMatch = None,
) -> TeamOut:
    view = kb.teams.patch(name, changes, reader, if_match=entity_tags(if_match))
    response.headers["ETag"] = view.etag
    return TeamOut.of(view.status)
