"""Who may ask for which teams' metrics (kb.metrics.scope, deciding with kb.access)."""

from __future__ import annotations

import pytest

from kb.access import LOCAL_ADMIN, Principal, can_view_all_metrics, can_view_metrics
from kb.errors import Forbidden, InvalidInput
from kb.metrics import metrics_scope
from kb.metrics.scope import team_test
from kb.teams import TeamDirectory, load_teams
from tests.conftest import STARTER_ARTICLES

IT_AGENT = Principal(name="ivan", role="agent", teams=frozenset({"it"}))
EMPLOYEE = Principal(name="erik")


@pytest.fixture(scope="module")
def teams() -> TeamDirectory:
    return load_teams(STARTER_ARTICLES / "teams.yaml")


def test_metrics_scope_follows_kb_access(teams: TeamDirectory) -> None:
    assert metrics_scope(LOCAL_ADMIN, None, teams) is None
    assert metrics_scope(LOCAL_ADMIN, "hr", teams) == ["HR"]
    assert metrics_scope(IT_AGENT, None, teams) == ["IT"]
    assert metrics_scope(IT_AGENT, "It", teams) == ["IT"]
    with pytest.raises(Forbidden):
        metrics_scope(IT_AGENT, "HR", teams)
    with pytest.raises(Forbidden):
        metrics_scope(EMPLOYEE, None, teams)
    with pytest.raises(Forbidden):
        metrics_scope(EMPLOYEE, "IT", teams)
    with pytest.raises(Forbidden):
        metrics_scope(Principal(name="lost", role="agent", teams=frozenset({"Gone"})), None, teams)
    with pytest.raises(InvalidInput) as unknown:
        metrics_scope(LOCAL_ADMIN, "Legal", teams)
    assert unknown.value.field == "team"
    assert can_view_metrics(IT_AGENT, "it") and not can_view_metrics(EMPLOYEE, None)


def test_only_admins_see_every_team_at_once() -> None:
    assert can_view_all_metrics(LOCAL_ADMIN)
    assert not can_view_all_metrics(IT_AGENT) and not can_view_all_metrics(EMPLOYEE)


def test_team_test_ignores_case_and_keeps_rows_without_a_team_only_for_every_team() -> None:
    assert team_test(["IT"])("it") and not team_test(["IT"])("HR") and not team_test(["IT"])(None)
    assert team_test(None)(None) and team_test(None)("anything")
