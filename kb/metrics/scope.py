"""Which teams a reader gets metrics for, and the test that keeps a row (a ticket, an answer, an article) in or out
of that scope. The decisions themselves are kb.access's (`can_view_metrics`, `can_view_all_metrics`)."""

from __future__ import annotations

from collections.abc import Callable, Collection

from kb.access import Principal, can_view_all_metrics, can_view_metrics
from kb.errors import Forbidden, InvalidInput
from kb.teams import TeamDirectory

TeamTest = Callable[[str | None], bool]


def metrics_scope(reader: Principal, team: str | None, teams: TeamDirectory) -> list[str] | None:
    """The teams `reader` gets metrics for: None means every team (admins without a team filter).
    Forbidden for employees and for an agent asking about another team; InvalidInput for an unknown team."""
    if not can_view_metrics(reader, None):
        raise Forbidden("service metrics are for the agents of a team and for admins")
    if team is not None:
        found = teams.get(team)
        if found is None:
            raise InvalidInput(f"unknown team {team!r}; known teams: {', '.join(teams.names())}", field="team")
        if not can_view_metrics(reader, found.name):
            raise Forbidden(f"the metrics of {found.name} are for its agents and for admins")
        return [found.name]
    if can_view_all_metrics(reader):
        return None
    mine = [t.name for t in teams if can_view_metrics(reader, t.name)]
    if not mine:
        raise Forbidden("you are an agent of no configured team")
    return mine


def team_test(scope: Collection[str] | None) -> TeamTest:
    """Whether a team name is in `scope` (None: every team, a row naming no team included), ignoring case."""
    names = {t.lower() for t in scope} if scope is not None else None

    def in_scope(team: str | None) -> bool:
        return names is None or (team is not None and team.lower() in names)

    return in_scope
