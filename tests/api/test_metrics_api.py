"""GET /v1/metrics/service over HTTP with token auth: who may see which team's metrics, and a restricted article's
views never reach a reader outside its audience."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from api.app import create_app
from indexer.embedders import Embedder
from kb.service import KnowledgeBase
from kb.settings import Settings
from kb.store import schema
from tests.conftest import TRUSTED, bearer, copy_small_articles

pytestmark = pytest.mark.both_stores

SECRET_ID = "hr-bonus-calibration"
SECRET_TITLE = "Bonus calibration sheets for payroll staff"
SECRET_ARTICLE = f"""\
---
id: {SECRET_ID}
title: {SECRET_TITLE}
team: HR
audience: [hr]
status: published
---

## Symptoms
The bonus calibration sheet does not add up.

## Resolution
1. Send the calibration totals to the payroll lead.
"""
READABLE_HR = "request-annual-leave"
READABLE_IT = "vpn-drops-on-public-wifi"


@dataclass(frozen=True)
class MetricsKb:
    kb: KnowledgeBase
    settings: Settings
    tokens: dict[str, str]


@pytest.fixture(scope="module")
def metrics_kb(
    tmp_path_factory: pytest.TempPathFactory, embedder: Embedder, new_database_url: Callable[[Path], str]
) -> Iterator[MetricsKb]:
    root = tmp_path_factory.mktemp("metrics-api")
    articles = copy_small_articles(root / "articles")
    (articles / f"{SECRET_ID}.md").write_text(SECRET_ARTICLE, encoding="utf-8")
    settings = Settings(
        data_dir=root / "data",
        database_url=new_database_url(root / "data"),
        articles_dir=articles,
        trusted_clients=TRUSTED,
        rate_limit_per_minute=0,
        auth="token",
    )
    kb = KnowledgeBase(settings, embedder=embedder)
    kb.indexing.build(strict=True)
    users: dict[str, dict[str, Any]] = {
        "ada": {"role": "admin"},
        "ivan": {"role": "agent", "teams": ["IT"]},
        "hugo": {"role": "agent", "teams": ["HR"]},  # works HR tickets, but is not in the `hr` group
        "hana": {"role": "agent", "teams": ["HR"], "groups": ["hr"]},
        "erik": {"role": "employee", "groups": ["hr"]},
    }
    tokens = {name: kb.users.add(name, email=f"{name}@example.com", **fields)[1] for name, fields in users.items()}

    now = datetime.now(UTC).replace(microsecond=0)
    day = now - timedelta(days=2)
    tickets = []
    for team, requester in (("IT", "erik"), ("IT", "bea"), ("HR", "bea")):
        values = {
            "subject": "Help",
            "description": "Something is wrong.",
            "requester": requester,
            "team": team,
            "priority": "normal",
            "status": "open",
            "viewed_article_ids": [],
            "created_at": day,
            "expected_first_response_by": day + timedelta(hours=8),
            "first_response_at": day + timedelta(hours=1),
        }
        event = {"at": day, "actor": requester, "kind": "created", "field": "team", "new": team}
        tickets.append((values, [event]))
    views = [(SECRET_ID, "view", 9), (SECRET_ID, "helpful", 4), (READABLE_HR, "view", 2), (READABLE_IT, "view", 3)]
    # Back-dated rows go straight into the schema: the repositories only ever write the present.
    with kb.store.engine.begin() as conn:
        for values, events in tickets:
            ticket_id = conn.execute(sa.insert(schema.tickets).values(**values)).inserted_primary_key[0]  # type: ignore[index]
            conn.execute(sa.insert(schema.ticket_events), [{**e, "ticket_id": ticket_id} for e in events])
        conn.execute(
            sa.insert(schema.article_feedback),
            [
                {"article_id": article_id, "user": f"u{i}", "kind": kind, "at": day}
                for article_id, kind, count in views
                for i in range(count)
            ],
        )
    yield MetricsKb(kb, settings, tokens)
    kb.close()


@pytest.fixture(scope="module")
def api(metrics_kb: MetricsKb, embedder: Embedder) -> Iterator[TestClient]:
    with TestClient(create_app(metrics_kb.settings, embedder=embedder)) as test_client:
        yield test_client


def _get(api: TestClient, metrics_kb: MetricsKb, user: str, **params: str) -> Any:
    return api.get("/v1/metrics/service", params=params, headers=bearer(metrics_kb.tokens[user]))


def test_an_admin_sees_every_team(api: TestClient, metrics_kb: MetricsKb) -> None:
    response = _get(api, metrics_kb, "ada")

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["teams"] is None
    assert body["tickets_created"] == 3
    assert body["first_response"]["count"] == 3
    assert body["backlog"]["by_state"]["open"] == 3
    assert sum(map(sum, body["busiest_hours"]["counts"])) == 3
    assert [a["article_id"] for a in body["top_articles"]["by_views"]] == [SECRET_ID, READABLE_IT, READABLE_HR]
    assert body["top_articles"]["total_views"] == 14

    hr = _get(api, metrics_kb, "ada", team="hr").json()
    assert hr["teams"] == ["HR"]
    assert hr["tickets_created"] == 1


def test_an_agent_sees_only_their_teams(api: TestClient, metrics_kb: MetricsKb) -> None:
    mine = _get(api, metrics_kb, "ivan")
    assert mine.status_code == 200, mine.text
    assert mine.json()["teams"] == ["IT"]
    assert mine.json()["tickets_created"] == 2
    assert _get(api, metrics_kb, "ivan", team="IT").json()["tickets_created"] == 2

    other = _get(api, metrics_kb, "ivan", team="HR")
    assert other.status_code == 403
    assert other.headers["content-type"].startswith("application/problem+json")
    assert other.json()["status"] == 403


def test_an_employee_gets_403(api: TestClient, metrics_kb: MetricsKb) -> None:
    for params in ({}, {"team": "IT"}, {"from": "not a date"}):
        response = _get(api, metrics_kb, "erik", **params)
        assert response.status_code == 403, response.text
        assert response.headers["content-type"].startswith("application/problem+json")


def test_no_token_is_401(api: TestClient) -> None:
    assert api.get("/v1/metrics/service").status_code == 401


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"from": "last tuesday"}, "from"),
        ({"to": "2026-02-30"}, "to"),
        ({"from": "2026-10-02", "to": "2026-10-01"}, "from"),
        ({"team": "Legal"}, "team"),
    ],
)
def test_bad_parameters_are_422_naming_the_field(
    api: TestClient, metrics_kb: MetricsKb, params: dict[str, str], field: str
) -> None:
    response = _get(api, metrics_kb, "ada", **params)

    assert response.status_code == 422, response.text
    assert response.json()["field"] == field


def test_an_explicit_window(api: TestClient, metrics_kb: MetricsKb) -> None:
    now = datetime.now(UTC)
    body = _get(
        api, metrics_kb, "ada", **{"from": (now - timedelta(days=1)).date().isoformat(), "to": now.date().isoformat()}
    ).json()
    assert body["tickets_created"] == 0  # the tickets were created two days ago
    assert body["start"].startswith((now - timedelta(days=1)).date().isoformat())


@pytest.mark.parametrize("team", [None, "HR"])
def test_a_restricted_article_never_reaches_an_agent_outside_its_audience(
    api: TestClient, metrics_kb: MetricsKb, team: str | None
) -> None:
    params = {"team": team} if team else {}
    response = _get(api, metrics_kb, "hugo", **params)

    assert response.status_code == 200, response.text
    for marker in (SECRET_ID, SECRET_TITLE.lower(), "calibration"):
        assert marker not in response.text.lower()
    top = response.json()["top_articles"]
    assert [a["article_id"] for a in top["by_views"]] == [READABLE_HR]
    assert (top["total_views"], top["total_helpful"], top["by_helpful"]) == (2, 0, [])

    insider = _get(api, metrics_kb, "hana", **params).json()["top_articles"]
    assert [a["article_id"] for a in insider["by_views"]] == [SECRET_ID, READABLE_HR]
    assert (insider["total_views"], insider["total_helpful"]) == (11, 4)

    it_agent = _get(api, metrics_kb, "ivan")
    assert SECRET_ID not in it_agent.text
    assert [a["article_id"] for a in it_agent.json()["top_articles"]["by_views"]] == [READABLE_IT]


def test_the_operation_is_documented(api: TestClient) -> None:
    operation = api.get("/openapi.json").json()["paths"]["/v1/metrics/service"]["get"]
    assert {p["name"] for p in operation["parameters"]} == {"team", "from", "to"}
    assert "403" in operation["responses"]
