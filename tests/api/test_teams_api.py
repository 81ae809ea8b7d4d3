"""Teams over HTTP: desk hours, channels and "open now" for every reader; edits by admins, kept in the store.

Statuses are asked for a fixed moment (`?at=`), so the answers do not depend on when the tests run. Each test
gets its own data dir (the `small_articles` copy of the starter teams file), so edits never leak.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from indexer.embedders import Embedder
from kb.access import Principal
from kb.service import KnowledgeBase
from kb.settings import Settings
from kb.store.teams import TeamOverrideRepository
from kb.teams import Team, add_business_hours
from kb.teams.service import REFRESH_EVERY

pytestmark = pytest.mark.both_stores

UTC = dt.UTC
TUESDAY_MORNING = "2026-01-13T09:30:00Z"  # 09:30 in Lisbon (IT), 10:30 in Warsaw (HR)
SUNDAY = "2026-01-18T12:00:00Z"

LEGAL: dict[str, Any] = {
    "description": "Contracts, NDAs and compliance questions.",
    "email": "legal@example.com",
    "timezone": "Europe/Warsaw",
    "hours": {"mon": "09:00-12:00, 13:00-16:00", "wed": "09:00-12:00, 13:00-16:00"},
    "holidays": ["2026-12-24"],
    "channels": [
        {"kind": "email", "address": "legal@example.com"},
        {"kind": "phone", "address": "+48 22 000 4000", "hours": "Mon 10:00-11:00", "schedule": {"mon": "10:00-11:00"}},
        {"kind": "portal", "address": "/v1/tickets", "hours": "24/7"},
    ],
    "first_response_hours": {"urgent": 2, "normal": 16},
    "resolution_hours": {"normal": 40},
    "keywords": ["contract", "nda"],
}


def _at(value: str | None) -> dt.datetime | None:
    return None if value is None else dt.datetime.fromisoformat(value)


def _utc(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=UTC)


def _status(item: dict[str, Any]) -> tuple[bool, dt.datetime | None, dt.datetime | None]:
    return item["open_now"], _at(item["closes_at"]), _at(item["next_opening"])


def _assert_problem(response: httpx.Response, status: int, field: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    if field is not None:
        assert body["field"] == field, body
    return body


def _team_updates(settings: Settings, embedder: Embedder) -> list[dict[str, Any]]:
    kb = KnowledgeBase(settings, embedder=embedder)
    try:
        return [e for e in reversed(kb.store.audit.recent(500)) if e["action"] == "team.update"]
    finally:
        kb.close()


@pytest.fixture
def api(small_settings: Settings, embedder: Embedder) -> Iterator[TestClient]:
    """The app over a private copy of the starter teams; the test client is the trusted local admin."""
    with TestClient(create_app(small_settings, embedder=embedder)) as client:
        yield client


# Reading ----------------------------------------------------------------------------------------------------
def test_every_team_with_its_hours_channels_and_status(api: TestClient) -> None:
    response = api.get("/v1/teams", params={"at": TUESDAY_MORNING})
    assert response.status_code == 200, response.text
    teams = {t["name"]: t for t in response.json()}
    assert list(teams) == ["IT", "HR", "Facilities", "Finance"]  # the order of the teams file

    it = teams["IT"]
    assert it["timezone"] == "Europe/Lisbon"
    assert it["hours"]["fri"] == "08:00-17:00"
    assert it["holidays"][0] == "2026-12-25"
    assert it["first_response_hours"] == {"urgent": 1, "high": 4, "normal": 8, "low": 16}
    assert "vpn" in it["keywords"]
    assert _status(it) == (True, _utc("2026-01-13T18:00"), _utc("2026-01-14T08:00"))

    hr = teams["HR"]
    assert _status(hr) == (True, _utc("2026-01-13T16:00"), _utc("2026-01-14T08:00"))  # 17:00 and 09:00 CET
    channels = {c["kind"]: c for c in hr["channels"]}
    assert channels["phone"]["hours"] == "Tue and Thu 10:00-12:00"
    assert channels["phone"]["schedule"] == {"tue": "10:00-12:00", "thu": "10:00-12:00"}
    assert _status(channels["phone"]) == (True, _utc("2026-01-13T11:00"), _utc("2026-01-15T09:00"))
    assert _status(channels["portal"]) == (True, None, None)  # 24/7
    assert _status(channels["email"]) == _status(hr)  # desk hours
    assert channels["email"]["schedule"] is None


def test_one_team_by_name_in_any_case(api: TestClient) -> None:
    response = api.get("/v1/teams/hr", params={"at": SUNDAY})
    assert response.status_code == 200, response.text
    hr = response.json()
    assert hr["name"] == "HR"
    assert _status(hr) == (False, None, _utc("2026-01-19T08:00"))  # Monday 09:00 in Warsaw
    phone = next(c for c in hr["channels"] if c["kind"] == "phone")
    assert _status(phone) == (False, None, _utc("2026-01-20T09:00"))  # Tuesday 10:00
    assert api.get("/v1/teams/HR ").json()["name"] == "HR"


def test_status_defaults_to_now(api: TestClient) -> None:
    before = dt.datetime.now(UTC)
    it = api.get("/v1/teams/IT").json()
    after = dt.datetime.now(UTC)
    if it["open_now"]:
        assert before < _at(it["closes_at"])  # type: ignore[operator]
    else:
        assert it["closes_at"] is None
    assert after < _at(it["next_opening"])  # type: ignore[operator]


def test_unknown_team_is_a_404_problem(api: TestClient) -> None:
    body = _assert_problem(api.get("/v1/teams/Legal"), 404, "name")
    assert "Legal" in body["detail"] and "IT" in body["detail"]
    _assert_problem(api.patch("/v1/teams/Legal", json={"email": "x@example.com"}), 404, "name")


@pytest.mark.parametrize("at", ["2026-01-13T09:30:00", "3500-01-01T00:00:00Z", "1900-01-01T00:00:00Z", "tuesday"])
def test_a_bad_moment_is_a_422_problem(api: TestClient, at: str) -> None:
    _assert_problem(api.get("/v1/teams", params={"at": at}), 422, "at")
    _assert_problem(api.get("/v1/teams/IT", params={"at": at}), 422, "at")


# Editing ----------------------------------------------------------------------------------------------------
def test_admin_creates_and_replaces_teams_and_the_edits_persist(small_settings: Settings, embedder: Embedder) -> None:
    with TestClient(create_app(small_settings, embedder=embedder)) as api:
        created = api.put("/v1/teams/Legal", json=LEGAL)
        assert created.status_code == 201, created.text
        assert created.json()["name"] == "Legal"
        assert created.json()["hours"] == LEGAL["hours"]

        it = api.get("/v1/teams/IT").json()
        replaced = api.put("/v1/teams/it", json={**it, "hours": {"sat": "10:00-14:00"}, "holidays": []})
        assert replaced.status_code == 200, replaced.text
        assert replaced.json()["name"] == "IT"  # the path's case does not rename the team
        assert replaced.json()["hours"] == {"sat": "10:00-14:00"}
        assert [t["name"] for t in api.get("/v1/teams").json()] == ["IT", "HR", "Facilities", "Finance", "Legal"]

        # Fields left out of a PUT take their defaults: it replaces the whole team.
        bare = api.put("/v1/teams/Legal", json={"timezone": "Europe/Warsaw"})
        assert bare.status_code == 200, bare.text
        assert bare.json()["channels"] == [] and bare.json()["hours"] == {}
        assert api.put("/v1/teams/Legal", json=LEGAL).status_code == 200

    # A new app (a restart) on the same data dir applies the stored edits over the teams file.
    with TestClient(create_app(small_settings, embedder=embedder)) as api:
        legal = api.get("/v1/teams/LEGAL", params={"at": "2026-01-12T09:30:00Z"}).json()  # Monday 10:30 in Warsaw
        assert legal["description"] == LEGAL["description"]
        assert legal["holidays"] == ["2026-12-24"]
        assert _status(legal) == (True, _utc("2026-01-12T11:00"), _utc("2026-01-12T12:00"))  # lunch at 12:00
        phone, portal = legal["channels"][1], legal["channels"][2]
        assert _status(phone) == (True, _utc("2026-01-12T10:00"), _utc("2026-01-19T09:00"))
        assert _status(portal) == (True, None, None)
        saturday = api.get("/v1/teams/IT", params={"at": "2026-01-17T11:00:00Z"}).json()
        assert saturday["hours"] == {"sat": "10:00-14:00"}
        assert _status(saturday) == (True, _utc("2026-01-17T14:00"), _utc("2026-01-24T10:00"))
        # HR is not edited: still the file's.
        assert api.get("/v1/teams/HR").json()["hours"]["fri"] == "09:00-15:00"


def test_an_edit_reaches_the_ticket_clock_at_once(api: TestClient) -> None:
    """Tickets and the teams endpoint share one directory: an edit changes the next ticket's due time."""
    response = api.patch("/v1/teams/IT", json={"hours": None, "first_response_hours": {"urgent": 2.5}})
    assert response.status_code == 200, response.text
    assert response.json()["hours"] == {}
    assert _status(response.json()) == (True, None, None)  # no hours: always open

    ticket = api.post(
        "/v1/tickets",
        json={
            "subject": "Laptop",
            "description": "It will not boot",
            "requester": "x",
            "team": "it",
            "priority": "urgent",
        },
    )
    assert ticket.status_code == 201, ticket.text
    created, due = _at(ticket.json()["created_at"]), _at(ticket.json()["expected_first_response_by"])
    assert created is not None and due is not None
    assert due - created == dt.timedelta(hours=2.5)  # wall-clock hours now that IT never closes


def _config(channel: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in channel.items() if k not in ("open_now", "closes_at", "next_opening")}


def test_patch_merges_over_the_current_team(api: TestClient) -> None:
    before = api.get("/v1/teams/IT").json()
    response = api.patch(
        "/v1/teams/IT",
        json={
            "hours": {"sat": "10:00-14:00", "fri": None},
            "first_response_hours": {"urgent": 0.5},
            "email": "it@x.io",
        },
    )
    assert response.status_code == 200, response.text
    after = response.json()
    assert after["hours"] == {**{d: before["hours"][d] for d in ("mon", "tue", "wed", "thu")}, "sat": "10:00-14:00"}
    assert after["first_response_hours"] == {**before["first_response_hours"], "urgent": 0.5}
    assert after["email"] == "it@x.io"
    for unchanged in ("description", "timezone", "holidays", "resolution_hours", "keywords"):
        assert after[unchanged] == before[unchanged], unchanged
    # The channels' configuration is unchanged; their open/closed status may move with the new desk hours.
    assert [_config(c) for c in after["channels"]] == [_config(c) for c in before["channels"]]

    # Lists are replaced whole: give IT's phone a line of its own (the channels as read, statuses and all).
    channels = after["channels"]
    channels[-1]["schedule"] = {"sat": "10:00-11:00"}
    response = api.patch("/v1/teams/IT", json={"channels": channels, "description": None})
    assert response.status_code == 200, response.text
    assert response.json()["description"] == ""  # null resets a field to its default
    saturday = api.get("/v1/teams/IT", params={"at": "2026-01-17T10:30:00Z"}).json()
    assert _status(saturday)[0] is True
    assert _status(saturday["channels"][-1]) == (True, _utc("2026-01-17T11:00"), _utc("2026-01-24T10:00"))
    assert _status(saturday["channels"][1]) == _status(saturday)  # e-mail follows the desk


INVALID_EDITS = [
    ({"timezone": "Mars/Olympus_Mons"}, "timezone"),
    ({"hours": {"fun": "09:00-17:00"}}, "hours"),
    ({"hours": {"mon": "17:00-09:00"}}, "hours"),
    ({"hours": {"mon": "nine to five"}}, "hours"),
    ({"first_response_hours": {"critical": 1}}, "first_response_hours.critical"),
    ({"resolution_hours": {"urgent": -4}}, "resolution_hours.urgent"),
    ({"channels": [{"kind": "phone", "address": "1", "schedule": {"tue": "25:00-26:00"}}]}, "channels.0.schedule"),
    ({"channels": [{"kind": "fax", "address": "1"}]}, "channels.0.kind"),
    ({"channels": [{"kind": "chat", "address": "#x", "hour": "24/7"}]}, "channels.0.hour"),
    ({"holidays": ["2026-13-01"]}, "holidays.0"),
    ({"timzone": "UTC"}, "timzone"),
    ({"name": "Operations"}, "name"),
    ({"name": ""}, "name"),
    ({"timezone": "Europe"}, "timezone"),  # a folder of the tz database: IsADirectoryError, once a 500
    ({"timezone": "a" * 300}, "timezone"),  # "file name too long", once a 500
    ({"timezone": "../etc/passwd"}, "timezone"),
    ({"hours": {"mon": "08:00-12:00, 10:00-14:00"}}, "hours"),  # overlapping intervals would count twice
    (
        {"channels": [{"kind": "phone", "address": "1", "schedule": {"tue": "10:00-12:00, 11:30-13:00"}}]},
        "channels.0.schedule",
    ),
]


@pytest.mark.parametrize("method", ["put", "patch"])
@pytest.mark.parametrize(("body", "field"), INVALID_EDITS)
def test_an_invalid_edit_is_a_422_naming_the_field_and_changes_nothing(
    api: TestClient, small_settings: Settings, embedder: Embedder, method: str, body: Any, field: str
) -> None:
    before = api.get("/v1/teams/IT", params={"at": SUNDAY}).json()
    response = api.request(method.upper(), "/v1/teams/IT", json=body)
    problem = _assert_problem(response, 422, field)
    assert problem["detail"].startswith(f"{field}:") or field == "name", problem["detail"]
    assert api.get("/v1/teams/IT", params={"at": SUNDAY}).json() == before
    assert _team_updates(small_settings, embedder) == []


def test_touching_intervals_are_accepted(api: TestClient) -> None:
    response = api.patch("/v1/teams/IT", json={"hours": {"mon": "08:00-12:00, 12:00-14:00"}})
    assert response.status_code == 200, response.text
    assert response.json()["hours"]["mon"] == "08:00-12:00, 12:00-14:00"


@pytest.mark.parametrize("method", ["put", "patch"])
@pytest.mark.parametrize("name", ["it", "It", " iT "])
def test_the_body_name_never_changes_the_case_of_an_existing_team(
    api: TestClient, small_settings: Settings, embedder: Embedder, method: str, name: str
) -> None:
    """Tickets store the team's name and filters compare it exactly: renaming "IT" to "it" would hide its
    tickets from lists and metrics. A body name equal in any case is accepted; the stored spelling stays."""
    ticket = api.post(
        "/v1/tickets",
        json={"subject": "Laptop", "description": "It will not boot", "requester": "x", "team": "IT"},
    )
    assert ticket.status_code == 201, ticket.text
    body = {**api.get("/v1/teams/IT").json(), "name": name} if method == "put" else {"name": name}

    response = api.request(method.upper(), "/v1/teams/it", json=body)
    assert response.status_code == 200, response.text
    assert response.json()["name"] == "IT"
    assert [t["name"] for t in api.get("/v1/teams").json()] == ["IT", "HR", "Facilities", "Finance"]
    listed = api.get("/v1/tickets", params={"team": "IT"})
    assert listed.status_code == 200, listed.text
    assert ticket.json()["id"] in [t["id"] for t in listed.json()["items"]]
    (update,) = _team_updates(small_settings, embedder)
    assert update["target"] == "IT" and "name" not in update["detail"]["changed"]


def test_a_new_team_keeps_the_spelling_of_the_path_or_the_body(api: TestClient) -> None:
    assert api.put("/v1/teams/legal", json={"name": "LeGal", "timezone": "UTC"}).json()["name"] == "LeGal"
    assert api.put("/v1/teams/Payroll", json={"timezone": "UTC"}).json()["name"] == "Payroll"
    _assert_problem(api.put("/v1/teams/Audit", json={"name": "Legal"}), 422, "name")


def test_a_body_that_is_not_an_object_is_refused(api: TestClient) -> None:
    _assert_problem(api.put("/v1/teams/IT", json=["IT"]), 422, "body")
    _assert_problem(api.patch("/v1/teams/IT", content=b"{not json", headers={"content-type": "application/json"}), 422)


# Who may edit -----------------------------------------------------------------------------------------------
@pytest.fixture
def token_api(small_settings: Settings, embedder: Embedder) -> Iterator[tuple[TestClient, dict[str, str]]]:
    settings = small_settings.model_copy(update={"auth": "token"})
    kb = KnowledgeBase(settings, embedder=embedder)
    tokens = {
        name: kb.users.add(name, email=f"{name}@example.com", role=role, teams=teams)[1]
        for name, role, teams in (("erin", "employee", []), ("ivan", "agent", ["IT"]), ("ada", "admin", []))
    }
    kb.close()
    with TestClient(create_app(settings, embedder=embedder)) as client:
        yield client, {name: f"Bearer {token}" for name, token in tokens.items()}


@pytest.mark.parametrize("user", ["erin", "ivan"])
def test_only_admins_edit_teams(
    token_api: tuple[TestClient, dict[str, str]],
    small_settings: Settings,
    embedder: Embedder,
    user: str,
) -> None:
    api, auth = token_api
    headers = {"Authorization": auth[user]}
    assert api.get("/v1/teams", headers=headers).status_code == 200  # every signed-in reader may look
    assert api.get("/v1/teams/IT", headers=headers).status_code == 200
    before = api.get("/v1/teams/IT", headers=headers, params={"at": SUNDAY}).json()

    _assert_problem(api.put("/v1/teams/IT", json={"timezone": "UTC"}, headers=headers), 403)
    _assert_problem(api.put("/v1/teams/Legal", json=LEGAL, headers=headers), 403)
    _assert_problem(api.patch("/v1/teams/IT", json={"hours": None}, headers=headers), 403)
    # Not even an invalid edit gets as far as validation.
    _assert_problem(api.patch("/v1/teams/IT", json={"timezone": "Mars/X"}, headers=headers), 403)

    assert api.get("/v1/teams/IT", headers=headers, params={"at": SUNDAY}).json() == before
    _assert_problem(api.get("/v1/teams/Legal", headers=headers), 404)
    assert _team_updates(small_settings, embedder) == []


def test_without_a_token_nothing_is_shown(token_api: tuple[TestClient, dict[str, str]]) -> None:
    api, _ = token_api
    _assert_problem(api.get("/v1/teams"), 401)
    _assert_problem(api.put("/v1/teams/IT", json={}), 401)


def test_every_edit_leaves_an_audit_row(
    token_api: tuple[TestClient, dict[str, str]], small_settings: Settings, embedder: Embedder
) -> None:
    api, auth = token_api
    headers = {"Authorization": auth["ada"]}
    assert api.patch("/v1/teams/IT", json={"hours": {"fri": "08:00-16:00"}}, headers=headers).status_code == 200
    assert api.put("/v1/teams/Legal", json=LEGAL, headers=headers).status_code == 201
    assert api.patch("/v1/teams/legal", json={}, headers=headers).status_code == 200

    patched, created, unchanged = _team_updates(small_settings, embedder)
    assert (patched["actor"], patched["action"], patched["target"], patched["origin"]) == (
        "ada",
        "team.update",
        "IT",
        "testclient",
    )
    assert patched["detail"]["created"] is False
    hours = patched["detail"]["changed"]["hours"]
    assert hours["from"]["fri"] == "08:00-17:00" and hours["to"]["fri"] == "08:00-16:00"
    assert list(patched["detail"]["changed"]) == ["hours"]

    assert created["target"] == "Legal" and created["detail"]["created"] is True
    assert created["detail"]["changed"]["timezone"] == {"from": None, "to": "Europe/Warsaw"}
    assert unchanged["target"] == "Legal" and unchanged["detail"]["changed"] == {}


def test_a_stored_edit_that_no_longer_validates_is_skipped(small_settings: Settings, embedder: Embedder) -> None:
    kb = KnowledgeBase(small_settings, embedder=embedder)
    overrides = TeamOverrideRepository(kb.store.engine)
    overrides.put("it", {"name": "IT", "timezone": "Mars/Olympus_Mons"}, expected=0, updated_by="someone")
    overrides.put("Facilities", {"name": "Facilities", "timezone": "Europe/Paris"}, expected=0, updated_by="ada")
    kb.close()

    kb = KnowledgeBase(small_settings, embedder=embedder)
    try:
        it, facilities = kb.teams.directory.get("IT"), kb.teams.directory.get("facilities")
        assert it is not None and it.timezone == "Europe/Lisbon" and it.hours  # the file's team stands
        assert facilities is not None and facilities.hours == {}  # the valid override applies
        stored = TeamOverrideRepository(kb.store.engine).all()
        assert [(row["name"], row["updated_by"]) for row in stored] == [("it", "someone"), ("facilities", "ada")]

        # The file's team can still be edited, with the ETag it is read with: the edit replaces the bad override.
        admin = Principal(name="ada", role="admin")
        etag = kb.teams.status("IT").etag
        edited = kb.teams.patch("it", {"email": "it@x.io"}, admin, if_match=frozenset({etag}))
        assert edited.status.team.timezone == "Europe/Lisbon" and edited.status.team.email == "it@x.io"
        assert TeamOverrideRepository(kb.store.engine).get("IT")["version"] == 2  # type: ignore[index]
    finally:
        kb.close()


# Versions: ETag, If-Match, and two servers on one store -------------------------------------------------------
def test_a_team_read_and_its_edits_carry_an_etag(api: TestClient) -> None:
    read = api.get("/v1/teams/IT", params={"at": SUNDAY})
    etag = read.headers["ETag"]
    assert etag.startswith('"') and etag.endswith('"')
    assert api.get("/v1/teams/it").headers["ETag"] == etag  # the same team, whatever the moment asked about

    patched = api.patch("/v1/teams/IT", json={"email": "it@x.io"}, headers={"If-Match": etag})
    assert patched.status_code == 200, patched.text
    assert patched.headers["ETag"] not in (etag, None)
    assert api.get("/v1/teams/IT").headers["ETag"] == patched.headers["ETag"]

    created = api.put("/v1/teams/Legal", json=LEGAL)
    assert created.status_code == 201 and created.headers["ETag"] == api.get("/v1/teams/legal").headers["ETag"]
    # A proxy that compresses may weaken the tag; it still names the same version.
    replaced = api.put("/v1/teams/Legal", json=LEGAL, headers={"If-Match": f"W/{created.headers['ETag']}"})
    assert replaced.status_code == 200, replaced.text
    assert api.patch("/v1/teams/Legal", json={}, headers={"If-Match": "*"}).status_code == 200


@pytest.mark.parametrize("method", ["put", "patch"])
def test_a_stale_if_match_is_a_412_and_changes_nothing(
    api: TestClient, small_settings: Settings, embedder: Embedder, method: str
) -> None:
    stale = api.get("/v1/teams/IT").headers["ETag"]
    assert api.patch("/v1/teams/IT", json={"first_response_hours": {"normal": 77}}).status_code == 200
    before = api.get("/v1/teams/IT", params={"at": SUNDAY})
    updates = _team_updates(small_settings, embedder)

    body = {"first_response_hours": {"high": 5}}
    response = api.request(method.upper(), "/v1/teams/IT", json=body, headers={"If-Match": f'"0-x", {stale}'})
    problem = _assert_problem(response, 412, "If-Match")
    assert before.headers["ETag"] in problem["detail"]
    after = api.get("/v1/teams/IT", params={"at": SUNDAY})
    assert (after.json(), after.headers["ETag"]) == (before.json(), before.headers["ETag"])
    assert _team_updates(small_settings, embedder) == updates

    # Not even a team about to be created matches "*"; a PATCH of a team not there is a 404 all the same.
    _assert_problem(api.put("/v1/teams/Legal", json=LEGAL, headers={"If-Match": "*"}), 412, "If-Match")
    _assert_problem(api.patch("/v1/teams/Legal", json={}, headers={"If-Match": "*"}), 404, "name")
    _assert_problem(api.patch("/v1/teams/IT", json={}, headers={"If-Match": "0-abc"}), 422, "If-Match")


def test_edits_on_two_servers_both_survive(small_settings: Settings, embedder: Embedder) -> None:
    """Two servers on one data dir, both started before any edit: `normal` 8 → 77 on A, then `high` 4 → 5 on B.
    Both edits are kept, both servers show them, and tickets filed on either get the same targets."""
    with (
        TestClient(create_app(small_settings, embedder=embedder)) as a,
        TestClient(create_app(small_settings, embedder=embedder)) as b,
    ):
        assert a.get("/v1/teams/IT").status_code == b.get("/v1/teams/IT").status_code == 200
        assert a.patch("/v1/teams/IT", json={"first_response_hours": {"normal": 77}}).status_code == 200
        patched = b.patch("/v1/teams/IT", json={"first_response_hours": {"high": 5}})
        assert patched.status_code == 200, patched.text
        expected = {"urgent": 1, "high": 5, "normal": 77, "low": 16}
        assert patched.json()["first_response_hours"] == expected
        time.sleep(REFRESH_EVERY)  # the longest a ticket may use teams from before another server's edit
        it = Team.model_validate({k: v for k, v in patched.json().items() if k in Team.model_fields})
        for server in (a, b):
            for priority, hours in (("normal", 77), ("high", 5)):
                ticket = server.post(
                    "/v1/tickets",
                    json={
                        "subject": "Laptop",
                        "description": "Broken",
                        "requester": "x",
                        "team": "IT",
                        "priority": priority,
                    },
                )
                assert ticket.status_code == 201, ticket.text
                created, due = _at(ticket.json()["created_at"]), _at(ticket.json()["expected_first_response_by"])
                assert created is not None and due == add_business_hours(created, hours, it)

        # A team read asks the store every time: it shows the other server's edit and the same ETag.
        for server in (a, b):
            read = server.get("/v1/teams/IT")
            assert read.json()["first_response_hours"] == expected
            assert read.headers["ETag"] == patched.headers["ETag"]
