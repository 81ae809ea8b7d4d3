"""Service standards metrics over a window [start, end): the one entry point the API and `kb report` call.

Every definition is also in the README ("Service metrics: definitions"); keep the two in step.

- Window: `start` inclusive, `end` exclusive, instants in UTC (kb.metrics.window). A ticket belongs to the team
  that owns it now.
- Scope: with a team, that team; without one, every team for an admin and the agent's own teams combined for an
  agent. Employees may not see metrics (kb.metrics.scope, deciding with kb.access).
- Business hours are the owning team's (its timezone, weekly hours and holidays: kb.teams); a ticket of a team
  that is no longer configured is measured in calendar hours.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from kb.access import Principal
from kb.metrics.gaps import knowledge_gaps
from kb.metrics.results import ServiceMetrics
from kb.metrics.scope import metrics_scope, team_test
from kb.metrics.search import DEFLECTION_HOURS, search_in_scope, search_stats, top_articles
from kb.metrics.tickets import (
    Calendars,
    backlog,
    busiest_hours,
    csat,
    first_response_times,
    handle_times,
    nps,
    resolution_statuses,
    sla_attainment,
)
from kb.metrics.window import Bound, metrics_window
from kb.store.metrics import MetricsRepository
from kb.teams import TeamDirectory


class MetricsService:
    """Computes `ServiceMetrics` from the store's rows (MetricsRepository) and the teams' calendars."""

    def __init__(self, repository: MetricsRepository, teams: TeamDirectory) -> None:
        self._repository = repository
        self._teams = teams  # the live directory: admins' edits to hours and targets apply at once

    def report(
        self,
        reader: Principal,
        team: str | None = None,
        start: Bound = None,
        end: Bound = None,
        *,
        now: datetime | None = None,
    ) -> ServiceMetrics:
        """Every metric over [start, end) for the teams `reader` may see (see `metrics_scope`). The bounds are ISO
        8601 texts or aware datetimes (see `metrics_window`: default the 30 days to now). The scope is checked
        first, so an employee gets 403 whatever the window."""
        now = (now or datetime.now(UTC)).astimezone(UTC)
        scope = metrics_scope(reader, team, self._teams)
        window_start, window_end = metrics_window(start, end, now)
        return self._compute(scope, window_start, window_end, reader, now)

    def _compute(
        self, scope: list[str] | None, start: datetime, end: datetime, reader: Principal, now: datetime
    ) -> ServiceMetrics:
        """Every metric over [start, end) (UTC, start < end) for the teams in `scope` (None: every team), as
        `reader` sees them; `now` (UTC) decides whether the backlog is the current one or replayed from the
        history."""
        repository = self._repository
        calendars = Calendars(self._teams)
        in_scope = team_test(scope)

        created = repository.tickets_between("created_at", start, end, scope)
        resolved = repository.tickets_between("resolved_at", start, end, scope)
        rated = repository.tickets_between("csat_at", start, end, scope)  # csat() keeps the scored ones
        backlog_at = min(end, now)
        if backlog_at >= now:
            states = [(t, t.status) for t in repository.active(scope)]
        else:
            states = repository.statuses_at(backlog_at, scope)
        catalogue = repository.article_catalogue()
        searches = [
            s for s in repository.searches_between(start, end) if search_in_scope(s, catalogue, in_scope, scope)
        ]
        requests = repository.requests_between(start, end + timedelta(hours=DEFLECTION_HOURS))
        answers = [a for a in repository.nps_between(start, end) if in_scope(a.team)]
        feedback = repository.feedback_counts(start, end)
        resolutions = resolution_statuses(resolved, calendars)

        return ServiceMetrics(
            start=start,
            end=end,
            teams=scope,
            generated_at=now,
            tickets_created=len(created),
            tickets_resolved=len(resolved),
            first_response=first_response_times(created, calendars),
            handle_time=handle_times(resolutions),
            sla=sla_attainment(resolved, resolutions),
            backlog=backlog(states, backlog_at),
            busiest_hours=busiest_hours(created, calendars, scope),
            csat=csat(rated),
            nps=nps(answers),
            searches=search_stats(searches, requests),
            top_articles=top_articles(feedback, catalogue, reader, in_scope),
            knowledge_gaps=knowledge_gaps(s.query for s in searches if not s.answered),
        )
