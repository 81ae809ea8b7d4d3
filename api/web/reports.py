"""`/reports`: a team's service standards for its managers and agents, as charts drawn on the server (SVG, each
with its numbers in a table beside it, so that nothing is told by colour alone) over `kb.metrics`.

The trends are the same report over each of the last weeks; everything else is the report of the chosen window."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api.deps import KB
from api.web.pages import Session, posted, render
from kb.metrics.results import ServiceMetrics

router = APIRouter(include_in_schema=False)
TREND_WEEKS = 8


@dataclass(frozen=True)
class WeekPoint:
    start: datetime
    first_response_hours: float | None
    handle_hours: float | None
    created: int


@dataclass(frozen=True)
class Chart:
    """A line chart's geometry: points in a box of `width` by `height`, with the value each point stands for."""

    width: int
    height: int
    series: list[tuple[str, str, list[tuple[float, float, float]]]]  # (name, css class, [(x, y, value)])
    top: float


def trend_chart(weeks: list[WeekPoint], width: int = 560, height: int = 180) -> Chart:
    values = [v for w in weeks for v in (w.first_response_hours, w.handle_hours) if v is not None]
    top = max(values, default=1.0) or 1.0
    step = width / max(len(weeks) - 1, 1)

    def points(read: str) -> list[tuple[float, float, float]]:
        found = []
        for index, week in enumerate(weeks):
            value = getattr(week, read)
            if value is not None:
                found.append((round(index * step, 1), round(height - value / top * height, 1), value))
        return found

    return Chart(
        width,
        height,
        [
            ("first_response", "line-first", points("first_response_hours")),
            ("handle", "line-handle", points("handle_hours")),
        ],
        top,
    )


@router.get("/reports", response_class=HTMLResponse)
def reports(
    request: Request,
    kb: KB,
    session: Session,
    team: Annotated[str, Query(max_length=100)] = "",
    days: Annotated[int, Query(ge=1, le=366)] = 30,
) -> Response:
    now = datetime.now(UTC)
    metrics: ServiceMetrics = kb.metrics.report(session.reader, team or None, now - timedelta(days=days), now)
    weeks = []
    for back in range(TREND_WEEKS, 0, -1):
        start = now - timedelta(weeks=back)
        week = kb.metrics.report(session.reader, team or None, start, start + timedelta(weeks=1))
        weeks.append(
            WeekPoint(start, week.first_response.median_hours, week.handle_time.median_hours, week.tickets_created)
        )
    busiest = max((max(row) for row in metrics.busiest_hours.counts), default=0)
    teams = [t.name for t in kb.teams.directory]
    return render(
        request,
        "reports.html",
        session,
        metrics=metrics,
        team=team,
        days=days,
        teams=teams,
        weeks=weeks,
        trend=trend_chart(weeks),
        busiest=busiest or 1,
    )


@router.post("/reports/gaps/draft")
def draft_from_gap(
    request: Request,
    kb: KB,
    session: Session,
    team: Annotated[str, Form(max_length=100)],
    example: Annotated[str, Form(max_length=1000)],
    csrf: Annotated[str | None, Form()] = None,
) -> Response:
    """ "Write an article" from a knowledge gap: a draft of the team's, opened in the editor."""
    posted(request, session, csrf)
    saved = kb.insights.draft_from_gap(team, example, session.reader)
    return RedirectResponse(f"/agent/articles/{quote(saved.article.id)}/edit", status_code=303)
