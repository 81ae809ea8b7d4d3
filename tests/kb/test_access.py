"""`kb/access.py` decides every "may this caller ...?" question; these tables pin each answer for the callers that
matter (an employee, an agent of the team, an agent of another team, an admin, an agent with no team), including
the spelling differences the checks are meant to ignore (group and team names in another case)."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from typing import Any

import pytest

from kb import access
from kb.access import LOCAL_ADMIN, Principal

EMPLOYEE = Principal(name="erik")
HR_EMPLOYEE = Principal(name="hana", groups=frozenset({"HR", "finance"}))
IT_AGENT = Principal(name="ivan", role="agent", teams=frozenset({"IT"}))
IT_AGENT_LOWER = Principal(name="ines", role="agent", teams=frozenset({"it"}))
HR_AGENT = Principal(name="hugo", role="agent", groups=frozenset({"hr"}), teams=frozenset({"HR"}))
AGENT_WITHOUT_TEAM = Principal(name="nora", role="agent")
ADMIN = Principal(name="ada", role="admin")


def _cases(*rows: tuple[Principal, Any]) -> list[Any]:
    """`pytest.param`s named after the principal, so a failing row says whose answer changed."""
    return [pytest.param(principal, expected, id=principal.name) for principal, expected in rows]


@pytest.mark.parametrize(
    ("principal", "audience", "expected"),
    [
        pytest.param(EMPLOYEE, [], True, id="no audience: everyone"),
        pytest.param(AGENT_WITHOUT_TEAM, (), True, id="no audience, agent"),
        pytest.param(EMPLOYEE, ["hr"], False, id="employee outside the group"),
        pytest.param(HR_EMPLOYEE, ["hr"], True, id="member, group in another case"),
        pytest.param(HR_EMPLOYEE, ["FINANCE", "legal"], True, id="member of one of several groups"),
        pytest.param(HR_EMPLOYEE, ["legal"], False, id="member of other groups only"),
        pytest.param(IT_AGENT, ["it"], False, id="a team is not a group"),
        pytest.param(HR_AGENT, ["Hr"], True, id="agent in the group"),
        pytest.param(ADMIN, ["legal"], True, id="admin reads everything"),
        pytest.param(LOCAL_ADMIN, ["hr"], True, id="the local admin too"),
    ],
)
def test_can_read_article(principal: Principal, audience: Iterable[str], expected: bool) -> None:
    assert access.can_read_article(principal, audience) is expected


@pytest.mark.parametrize(
    ("principal", "team", "expected"),
    [
        pytest.param(IT_AGENT, "IT", True, id="agent of the team"),
        pytest.param(IT_AGENT, "it", True, id="agent of the team, another case"),
        pytest.param(IT_AGENT_LOWER, "IT", True, id="agent's team in another case"),
        pytest.param(HR_AGENT, "IT", False, id="agent of another team"),
        pytest.param(AGENT_WITHOUT_TEAM, "IT", False, id="agent of no team"),
        pytest.param(Principal(name="x", teams=frozenset({"IT"})), "IT", False, id="employee listed in the team"),
        pytest.param(EMPLOYEE, "IT", False, id="employee"),
        pytest.param(ADMIN, "IT", True, id="admin"),
        pytest.param(ADMIN, "Gone", True, id="admin, unknown team"),
    ],
)
def test_can_work_ticket(principal: Principal, team: str, expected: bool) -> None:
    assert access.can_work_ticket(principal, team) is expected


@pytest.mark.parametrize(
    ("principal", "requester", "team", "expected"),
    [
        pytest.param(EMPLOYEE, "erik", "IT", True, id="own ticket"),
        pytest.param(EMPLOYEE, "hana", "IT", False, id="someone else's ticket"),
        pytest.param(EMPLOYEE, "Erik", "IT", False, id="requester names compare exactly"),
        pytest.param(IT_AGENT, "erik", "IT", True, id="agent of the team"),
        pytest.param(IT_AGENT, "erik", "it", True, id="agent of the team, another case"),
        pytest.param(HR_AGENT, "erik", "IT", False, id="agent of another team"),
        pytest.param(HR_AGENT, "hugo", "IT", True, id="agent's own ticket in another team"),
        pytest.param(AGENT_WITHOUT_TEAM, "erik", "IT", False, id="agent of no team"),
        pytest.param(ADMIN, "erik", "Finance", True, id="admin"),
    ],
)
def test_can_read_ticket(principal: Principal, requester: str, team: str, expected: bool) -> None:
    assert access.can_read_ticket(principal, requester, team) is expected


@pytest.mark.parametrize(
    ("principal", "team", "expected"),
    [
        pytest.param(ADMIN, None, True, id="admin, whole service"),
        pytest.param(ADMIN, "HR", True, id="admin, any team"),
        pytest.param(IT_AGENT, None, True, id="agent, own teams combined"),
        pytest.param(IT_AGENT, "IT", True, id="agent, own team"),
        pytest.param(IT_AGENT, "it", True, id="agent, own team in another case"),
        pytest.param(IT_AGENT, "HR", False, id="agent, another team"),
        pytest.param(AGENT_WITHOUT_TEAM, None, False, id="agent of no team"),
        pytest.param(EMPLOYEE, None, False, id="employee"),
        pytest.param(HR_EMPLOYEE, "HR", False, id="employee in the team's group"),
    ],
)
def test_can_view_metrics(principal: Principal, team: str | None, expected: bool) -> None:
    assert access.can_view_metrics(principal, team) is expected


ADMIN_ONLY_CASES = _cases(
    (EMPLOYEE, False),
    (HR_EMPLOYEE, False),
    (IT_AGENT, False),
    (HR_AGENT, False),
    (AGENT_WITHOUT_TEAM, False),
    (ADMIN, True),
    (LOCAL_ADMIN, True),
)


@pytest.mark.parametrize(
    ("principal", "expected"),
    _cases(
        (EMPLOYEE, False),
        (HR_EMPLOYEE, False),
        (IT_AGENT, True),
        (HR_AGENT, True),
        (AGENT_WITHOUT_TEAM, True),
        (ADMIN, True),
        (LOCAL_ADMIN, True),
    ),
)
def test_can_work_tickets(principal: Principal, expected: bool) -> None:
    assert access.can_work_tickets(principal) is expected


@pytest.mark.parametrize(("principal", "expected"), ADMIN_ONLY_CASES)
def test_can_read_every_ticket(principal: Principal, expected: bool) -> None:
    assert access.can_read_every_ticket(principal) is expected


@pytest.mark.parametrize(
    ("principal", "expected"),
    [
        pytest.param(LOCAL_ADMIN, True, id="the local admin, at the server"),
        pytest.param(ADMIN, False, id="a signed-in admin"),
        pytest.param(IT_AGENT, False, id="agent"),
        pytest.param(EMPLOYEE, False, id="employee"),
    ],
)
def test_can_file_ticket_for_others(principal: Principal, expected: bool) -> None:
    assert access.can_file_ticket_for_others(principal) is expected


@pytest.mark.parametrize(("principal", "expected"), ADMIN_ONLY_CASES)
def test_can_edit_teams(principal: Principal, expected: bool) -> None:
    assert access.can_edit_teams(principal) is expected


@pytest.mark.parametrize(("principal", "expected"), ADMIN_ONLY_CASES)
def test_can_view_all_metrics(principal: Principal, expected: bool) -> None:
    assert access.can_view_all_metrics(principal) is expected


@pytest.mark.parametrize(("principal", "expected"), ADMIN_ONLY_CASES)
def test_can_manage_webhooks(principal: Principal, expected: bool) -> None:
    assert access.can_manage_webhooks(principal) is expected


@pytest.mark.parametrize(("principal", "expected"), ADMIN_ONLY_CASES)
def test_can_read_server_metrics(principal: Principal, expected: bool) -> None:
    assert access.can_read_server_metrics(principal) is expected


@pytest.mark.parametrize(
    ("principal", "team", "expected"),
    [
        pytest.param(IT_AGENT, "IT", True, id="agent of the owning team"),
        pytest.param(IT_AGENT_LOWER, "IT", True, id="team names in any case"),
        pytest.param(HR_AGENT, "IT", False, id="agent of another team"),
        pytest.param(AGENT_WITHOUT_TEAM, "IT", False, id="agent of no team"),
        pytest.param(IT_AGENT, None, False, id="an article of no team: admins only"),
        pytest.param(EMPLOYEE, "IT", False, id="employee"),
        pytest.param(ADMIN, "IT", True, id="admin"),
        pytest.param(ADMIN, None, True, id="admin, no team"),
    ],
)
def test_can_write_article(principal: Principal, team: str | None, expected: bool) -> None:
    assert access.can_write_article(principal, team) is expected


@pytest.mark.parametrize(
    ("principal", "expected"),
    [
        pytest.param(EMPLOYEE, ("groups",), id="no groups"),
        pytest.param(HR_EMPLOYEE, ("groups", "HR", "finance"), id="groups sorted, case kept"),
        pytest.param(HR_AGENT, ("groups", "hr"), id="agent: groups only, teams ignored"),
        pytest.param(AGENT_WITHOUT_TEAM, ("groups",), id="agent without groups"),
        pytest.param(ADMIN, ("admin",), id="admin"),
        pytest.param(Principal(name="a2", role="admin", groups=frozenset({"hr"})), ("admin",), id="admin with groups"),
    ],
)
def test_audience_key(principal: Principal, expected: tuple[str, ...]) -> None:
    assert principal.audience_key == expected


def test_audience_key_is_shared_by_readers_of_the_same_articles() -> None:
    """The key caches the reader's mask: equal keys must mean equal answers, whatever else differs."""
    same_groups = [
        Principal(name="a", groups=frozenset({"hr", "finance"})),
        Principal(name="b", role="agent", groups=frozenset({"finance", "hr"}), teams=frozenset({"IT"})),
    ]
    assert same_groups[0].audience_key == same_groups[1].audience_key
    assert EMPLOYEE.audience_key != HR_EMPLOYEE.audience_key
    assert ADMIN.audience_key == LOCAL_ADMIN.audience_key
    for audience in ([], ["hr"], ["legal"], ["finance", "legal"]):
        assert access.can_read_article(same_groups[0], audience) == access.can_read_article(same_groups[1], audience)


TABLE_TESTS: dict[str, Callable[..., None]] = {
    "can_read_article": test_can_read_article,
    "can_work_ticket": test_can_work_ticket,
    "can_read_ticket": test_can_read_ticket,
    "can_work_tickets": test_can_work_tickets,
    "can_read_every_ticket": test_can_read_every_ticket,
    "can_file_ticket_for_others": test_can_file_ticket_for_others,
    "can_view_metrics": test_can_view_metrics,
    "can_edit_teams": test_can_edit_teams,
    "can_view_all_metrics": test_can_view_all_metrics,
    "can_manage_webhooks": test_can_manage_webhooks,
    "can_read_server_metrics": test_can_read_server_metrics,
    "can_write_article": test_can_write_article,
}


def test_every_access_decision_has_a_table() -> None:
    """A new `can_*` in kb/access.py gets its table here too: the module is the one place that decides, so its
    answers are pinned function by function rather than only through the API."""
    decisions = {name for name, value in inspect.getmembers(access, inspect.isfunction) if name.startswith("can_")}
    assert decisions == set(TABLE_TESTS)
