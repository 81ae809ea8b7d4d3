"""GET /v1/metrics/service: service standards metrics for agents (their teams) and admins (every team)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import KB, Reader
from api.schemas.metrics import ServiceMetricsOut
from kb.metrics.window import MAX_INSTANT_CHARS

router = APIRouter(prefix="/v1/metrics", tags=["metrics"])

_INSTANT = "ISO 8601 date (midnight UTC) or date-time (UTC without an offset)"


@router.get(
    "/service",
    response_model=ServiceMetricsOut,
    summary="Service metrics over a window: volumes, response and handle times, SLAs, backlog, satisfaction, "
    "self-service",
)
def service_metrics(
    kb: KB,
    reader: Reader,
    team: Annotated[
        str | None, Query(max_length=100, description="One team; default: all your teams (admins: every team).")
    ] = None,
    start: Annotated[
        str | None,
        Query(
            alias="from",
            max_length=MAX_INSTANT_CHARS,
            description=f"Inclusive start, {_INSTANT}; default: 30 days before `to`.",
        ),
    ] = None,
    end: Annotated[
        str | None,
        Query(alias="to", max_length=MAX_INSTANT_CHARS, description=f"Exclusive end, {_INSTANT}; default: now."),
    ] = None,
) -> ServiceMetricsOut:
    return ServiceMetricsOut.model_validate(kb.metrics.report(reader, team, start, end), from_attributes=True)
