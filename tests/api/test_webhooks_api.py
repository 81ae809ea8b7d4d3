"""/v1/webhooks over HTTP with token auth: admins only, secrets shown once, fields named on bad input, and a
ticket filed through the API delivered to a real receiver by the server's own worker."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from indexer.embedders.sentence_transformer import SentenceTransformerEmbedder
from kb.service import KnowledgeBase
from kb.settings import Settings
from tests.conftest import TRUSTED, bearer
from tests.kb.test_webhooks import Receiver, verify


@dataclass(frozen=True)
class Served:
    client: TestClient
    kb: KnowledgeBase
    tokens: dict[str, str]

    def auth(self, user: str) -> dict[str, str]:
        return bearer(self.tokens[user])


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, embedder: SentenceTransformerEmbedder) -> Iterator[Served]:
    root = tmp_path_factory.mktemp("webhooks-api")
    articles = root / "articles"
    articles.mkdir()
    (articles / "teams.yaml").write_text(
        (Path(__file__).resolve().parents[2] / "articles" / "teams.yaml").read_text(encoding="utf-8"), "utf-8"
    )
    settings = Settings(
        data_dir=root / "data", articles_dir=articles, trusted_clients=TRUSTED, rate_limit_per_minute=0, auth="token"
    )
    kb = KnowledgeBase(settings, embedder=embedder)
    tokens = {}
    for name, role, teams in (("ada", "admin", []), ("erik", "employee", []), ("ivan", "agent", ["IT"])):
        _, tokens[name] = kb.users.add(name, email=f"{name}@example.com", role=role, teams=teams)
    with TestClient(create_app(settings, embedder=embedder)) as client:
        yield Served(client, kb, tokens)
    kb.close()


def _create(served: Served, **body: Any) -> Any:
    return served.client.post("/v1/webhooks", json=body, headers=served.auth("ada"))


def test_an_admin_creates_lists_and_deletes_webhooks(served: Served) -> None:
    generated = _create(served, url="https://hooks.example.com/kb", events=["ticket.created", "ticket.resolved"])
    assert generated.status_code == 201, generated.text
    created = generated.json()
    assert len(created["secret"]) >= 32
    assert created["events"] == ["ticket.created", "ticket.resolved"]
    assert (created["created_by"], created["active"]) == ("ada", True)
    chosen = _create(served, url="http://10.0.0.5:8080/in", events=["*"], secret="my-own-secret-0123456789")
    assert chosen.status_code == 201, chosen.text
    assert chosen.json()["secret"] == "my-own-secret-0123456789"

    listed = served.client.get("/v1/webhooks", headers=served.auth("ada"))
    assert listed.status_code == 200
    by_id = {w["id"]: w for w in listed.json()}
    assert by_id[created["id"]]["url"] == "https://hooks.example.com/kb"
    assert all("secret" not in w for w in listed.json())
    assert created["secret"] not in listed.text and "my-own-secret" not in listed.text  # shown once, never again

    for webhook in (created, chosen.json()):
        deleted = served.client.delete(f"/v1/webhooks/{webhook['id']}", headers=served.auth("ada"))
        assert deleted.status_code == 204 and deleted.content == b""
    listed = served.client.get("/v1/webhooks", headers=served.auth("ada")).json()
    assert created["id"] not in {w["id"] for w in listed}
    again = served.client.delete(f"/v1/webhooks/{created['id']}", headers=served.auth("ada"))
    assert again.status_code == 404
    assert again.headers["content-type"] == "application/problem+json"

    audit = [(a["action"], a["target"], a["actor"]) for a in served.kb.store.audit.recent()]
    for action in ("webhook.create", "webhook.delete"):
        assert (action, str(created["id"]), "ada") in audit


@pytest.mark.parametrize("user", ["erik", "ivan"])
def test_employees_and_agents_get_403(served: Served, user: str) -> None:
    webhook = _create(served, url="https://hooks.example.com/kb", events=["*"]).json()
    headers = served.auth(user)
    for response in (
        served.client.post("/v1/webhooks", json={"url": "https://x.example.com", "events": ["*"]}, headers=headers),
        served.client.get("/v1/webhooks", headers=headers),
        served.client.delete(f"/v1/webhooks/{webhook['id']}", headers=headers),
        served.client.get(f"/v1/webhooks/{webhook['id']}/deliveries", headers=headers),
    ):
        assert response.status_code == 403, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert webhook["secret"] not in response.text
    assert served.client.get("/v1/webhooks").status_code == 401  # and nobody without a token


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "ftp://hooks.example.com/kb", "events": ["*"]}, "url"),
        ({"url": "not a url", "events": ["*"]}, "url"),
        ({"url": "https://", "events": ["*"]}, "url"),
        ({"events": ["*"]}, "url"),
        ({"url": "https://hooks.example.com/kb", "events": ["ticket.exploded"]}, "events"),
        ({"url": "https://hooks.example.com/kb", "events": []}, "events"),
        ({"url": "https://hooks.example.com/kb", "events": "ticket.created"}, "events"),
        ({"url": "https://hooks.example.com/kb", "events": ["*"], "secret": "short"}, "secret"),
    ],
)
def test_invalid_input_is_422_naming_the_field(served: Served, body: dict[str, Any], field: str) -> None:
    response = served.client.post("/v1/webhooks", json=body, headers=served.auth("ada"))
    assert response.status_code == 422, response.text
    assert response.json()["field"] == field


def test_a_ticket_filed_over_http_is_delivered_by_the_server(served: Served) -> None:
    receiver = Receiver()
    created = _create(served, url=receiver.url, events=["ticket.created"])
    assert created.status_code == 201
    webhook, secret = created.json(), created.json()["secret"]
    try:
        ticket = served.client.post(
            "/v1/tickets",
            json={"subject": "Laptop will not boot", "description": "Black screen.", "requester": "erik", "team": "IT"},
            headers=served.auth("erik"),
        )
        assert ticket.status_code == 201, ticket.text

        deadline = time.monotonic() + 10
        while True:
            deliveries = served.client.get(f"/v1/webhooks/{webhook['id']}/deliveries", headers=served.auth("ada"))
            assert deliveries.status_code == 200, deliveries.text
            rows = deliveries.json()
            if rows and rows[0]["status"] == "delivered":
                break
            assert time.monotonic() < deadline, rows
            time.sleep(0.05)
        [row] = rows
        assert (row["event"], row["attempts"], row["last_error"]) == ("ticket.created", 1, None)
        [(headers, body)] = receiver.requests
        assert verify(secret, headers, body)
        assert headers["X-KB-Delivery"] == str(row["id"])
        assert receiver.bodies()[0]["data"]["ticket"]["id"] == ticket.json()["id"]
        assert receiver.bodies()[0]["data"]["ticket"]["requester"] == "erik"
    finally:
        receiver.close()
        served.client.delete(f"/v1/webhooks/{webhook['id']}", headers=served.auth("ada"))

    missing = served.client.get("/v1/webhooks/999999/deliveries", headers=served.auth("ada"))
    assert (missing.status_code, missing.json()["field"]) == (404, "webhook_id")
