"""Every client error is a 4xx `application/problem+json` naming the offending parameter; probes report health."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Protocol

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from indexer.embedders import Embedder
from kb.service import KnowledgeBase
from kb.settings import Settings

pytestmark = pytest.mark.both_stores

PROBLEM_JSON = "application/problem+json"
VALID_TICKET = {"subject": "Laptop fan is loud", "description": "It never stops.", "requester": "ana@example.com"}


class Response(Protocol):
    """What the tests read of a test client's response."""

    @property
    def status_code(self) -> int: ...

    @property
    def headers(self) -> Mapping[str, str]: ...

    @property
    def text(self) -> str: ...

    def json(self, **kwargs: Any) -> Any: ...


def _problem(response: Response, status: int, field: str | None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["title"]
    assert body["detail"]
    if field is not None:
        assert body.get("field") == field, body
    return body


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"q": ""}, "q"),
        ({"q": "   \t "}, "q"),
        ({}, "q"),
        ({"q": "x" * 1001}, "q"),
        ({"q": "printer", "limit": 0}, "limit"),
        ({"q": "printer", "limit": 51}, "limit"),
        ({"q": "printer", "limit": "abc"}, "limit"),
    ],
    ids=["empty", "whitespace", "missing", "too-long", "limit-0", "limit-51", "limit-abc"],
)
def test_bad_search_parameters(client: TestClient, params: dict[str, Any], field: str) -> None:
    _problem(client.get("/v1/search", params=params), 422, field)


def test_query_of_exactly_the_maximum_length_is_accepted(client: TestClient) -> None:
    assert client.get("/v1/search", params={"q": "x" * 1000}).status_code == 200


def test_unknown_article(client: TestClient) -> None:
    body = _problem(client.get("/v1/articles/no-such-article"), 404, "article_id")
    assert "no-such-article" in body["detail"]


@pytest.mark.parametrize(("params", "field"), [({"page": 0}, "page"), ({"per_page": 101}, "per_page")])
def test_bad_article_paging(client: TestClient, params: dict[str, Any], field: str) -> None:
    _problem(client.get("/v1/articles", params=params), 422, field)


def test_unknown_ticket(client: TestClient) -> None:
    body = _problem(client.get("/v1/tickets/987654"), 404, None)
    assert "987654" in body["detail"]
    assert body.get("field")


def test_unknown_ticket_names_the_path_parameter(client: TestClient) -> None:
    _problem(client.get("/v1/tickets/987654"), 404, "ticket_id")


@pytest.mark.parametrize("ticket_id", ["abc", "0", "-3", str(2**40)])
def test_invalid_ticket_id(client: TestClient, ticket_id: str) -> None:
    _problem(client.get(f"/v1/tickets/{ticket_id}"), 422, "ticket_id")


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"subject": None}, "subject"),
        ({"subject": ""}, "subject"),
        ({"subject": "   "}, "subject"),
        ({"subject": "x" * 301}, "subject"),
        ({"description": None}, "description"),
        ({"requester": None}, "requester"),
        ({"priority": "whenever"}, "priority"),
        ({"team": "Legal"}, "team"),
        ({"colour": "blue"}, "colour"),
        ({"viewed_article_ids": "vpn"}, "viewed_article_ids"),
    ],
    ids=[
        "missing-subject",
        "empty-subject",
        "blank-subject",
        "long-subject",
        "missing-description",
        "missing-requester",
        "unknown-priority",
        "unknown-team",
        "extra-field",
        "ids-not-a-list",
    ],
)
def test_bad_ticket_bodies(client: TestClient, changes: dict[str, Any], field: str) -> None:
    payload = {**VALID_TICKET, **changes}
    payload = {k: v for k, v in payload.items() if v is not None}
    _problem(client.post("/v1/tickets", json=payload), 422, field)


@pytest.mark.parametrize("content", [b"{not json", b"subject=x", b""], ids=["broken", "form", "empty"])
def test_malformed_ticket_json_is_a_problem(client: TestClient, content: bytes) -> None:
    response = client.post("/v1/tickets", content=content, headers={"content-type": "application/json"})
    _problem(response, 422, None)


def test_malformed_ticket_json_names_the_body(client: TestClient) -> None:
    response = client.post("/v1/tickets", content=b"{not json", headers={"content-type": "application/json"})
    _problem(response, 422, "body")


@pytest.mark.parametrize(
    ("changes", "field"),
    [({"subject": "\x00"}, "subject"), ({"viewed_article_ids": ["vpn\x00"]}, "viewed_article_ids.0")],
    ids=["subject", "list-item"],
)
def test_a_nul_character_in_a_ticket_is_refused_naming_the_field_on_both_stores(
    client: TestClient, changes: dict[str, Any], field: str
) -> None:
    # PostgreSQL cannot store U+0000: refused up front, the same on SQLite, never a 500.
    body = _problem(client.post("/v1/tickets", json=VALID_TICKET | changes), 422, field)
    assert "NUL" in body["detail"]


def test_a_nul_character_in_the_query_string_or_path_is_refused_naming_it(client: TestClient) -> None:
    _problem(client.get("/v1/search", params={"q": "printer\x00"}), 422, "q")
    _problem(client.get("/v1/articles/vpn%00"), 422, "article_id")


def test_a_nul_character_in_a_form_is_refused_naming_the_field(client: TestClient) -> None:
    body = _problem(
        client.post(
            "/v1/tickets", content=b"subject=a%00b", headers={"content-type": "application/x-www-form-urlencoded"}
        ),
        422,
        "subject",
    )
    assert "NUL" in body["detail"]


def test_ticket_body_that_is_not_an_object(client: TestClient) -> None:
    _problem(client.post("/v1/tickets", json=["subject"]), 422, "body")


def test_unknown_route_and_method_are_problems(client: TestClient) -> None:
    _problem(client.get("/v1/nothing-here"), 404, None)
    _problem(client.delete("/v1/search"), 405, None)


# Probes -------------------------------------------------------------------------------------------------------


def test_healthz(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_when_the_index_is_loaded(client: TestClient, starter_kb: KnowledgeBase) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ready",
        "index": starter_kb.indexing.searcher().index.generation,
        # One server alone: it holds every change it made (the change log's newest).
        "changes": {"applied": starter_kb.store.change_log.head(), "lag": 0, "lag_seconds": 0.0},
    }


@pytest.fixture
def unready_client(small_settings: Settings, embedder: Embedder) -> Iterator[TestClient]:
    """The API over a data dir that has never been indexed."""
    with TestClient(create_app(small_settings, embedder=embedder)) as test_client:
        yield test_client


def test_readyz_without_an_index_is_503_problem(unready_client: TestClient) -> None:
    assert unready_client.get("/healthz").status_code == 200
    body = _problem(unready_client.get("/readyz"), 503, None)
    assert "kb index" in body["detail"]


def test_search_without_an_index_is_503_problem_not_a_crash(unready_client: TestClient) -> None:
    body = _problem(unready_client.get("/v1/search", params={"q": "printer offline"}), 503, None)
    assert "kb index" in body["detail"]


def test_ticket_without_an_index_goes_to_the_default_team(unready_client: TestClient) -> None:
    response = unready_client.post("/v1/tickets", json=VALID_TICKET)
    assert response.status_code == 201, response.text
    assert response.json()["team"] == "IT"
