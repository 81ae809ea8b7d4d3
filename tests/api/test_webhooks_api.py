"""/v1/webhooks over HTTP with token auth: admins only, secrets shown once, fields named on bad input, and a
ticket filed through the API delivered to a real receiver by the server's own worker.

Two servers: `served` allow-lists the local receiver's network (127.0.0.1/32, through the setting), `guarded`
has the default settings (public targets only). Names are answered by the fake resolver of the kb tests."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from indexer.embedders import Embedder
from kb.notify import targets
from kb.service import KnowledgeBase
from kb.settings import Settings
from tests.conftest import TRUSTED, bearer
from tests.kb.notify.test_webhooks import LOCAL, PUBLIC, SECRET_ANSWER, FakeDNS, Receiver, numeric_getaddrinfo, verify

pytestmark = pytest.mark.both_stores


@dataclass(frozen=True)
class Served:
    client: TestClient
    kb: KnowledgeBase
    tokens: dict[str, str]

    def auth(self, user: str) -> dict[str, str]:
        return bearer(self.tokens[user])


@contextmanager
def _serving(root: Path, embedder: Embedder, **overrides: Any) -> Iterator[Served]:
    articles = root / "articles"
    articles.mkdir()
    (articles / "teams.yaml").write_text(
        (Path(__file__).resolve().parents[2] / "articles" / "teams.yaml").read_text(encoding="utf-8"), "utf-8"
    )
    settings = Settings(
        data_dir=root / "data",
        articles_dir=articles,
        trusted_clients=TRUSTED,
        rate_limit_per_minute=0,
        auth="token",
        **overrides,
    )
    kb = KnowledgeBase(settings, embedder=embedder)
    tokens = {}
    for name, role, teams in (("ada", "admin", []), ("erik", "employee", []), ("ivan", "agent", ["IT"])):
        _, tokens[name] = kb.users.add(name, email=f"{name}@example.com", role=role, teams=teams)
    with TestClient(create_app(settings, embedder=embedder)) as client:
        yield Served(client, kb, tokens)
    kb.close()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Iterator[Served]:
    """A server whose settings allow-list the local receiver."""
    with _serving(tmp_path_factory.mktemp("webhooks-api"), embedder, webhook_allowed_targets=LOCAL) as server:
        yield server


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Iterator[Served]:
    """A server with the default settings: webhooks to public addresses only."""
    with _serving(tmp_path_factory.mktemp("webhooks-api-guarded"), embedder) as server:
        yield server


@pytest.fixture(autouse=True)
def dns(monkeypatch: pytest.MonkeyPatch) -> FakeDNS:
    """The kb tests' fake resolver; no real name lookups (the servers' delivery threads included)."""
    fake = FakeDNS()
    monkeypatch.setattr(targets, "resolve", fake)
    monkeypatch.setattr(socket, "getaddrinfo", numeric_getaddrinfo)
    return fake


def _create(served: Served, **body: Any) -> Any:
    return served.client.post("/v1/webhooks", json=body, headers=served.auth("ada"))


def _file_ticket(served: Served) -> Any:
    ticket = served.client.post(
        "/v1/tickets",
        json={"subject": "Laptop will not boot", "description": "Black screen.", "requester": "erik", "team": "IT"},
        headers=served.auth("erik"),
    )
    assert ticket.status_code == 201, ticket.text
    return ticket


def _deliveries_once(served: Served, webhook_id: int, done: Callable[[dict[str, Any]], bool]) -> Any:
    """Poll the deliveries endpoint until its newest row is `done`; the last response."""
    deadline = time.monotonic() + 10
    while True:
        deliveries = served.client.get(f"/v1/webhooks/{webhook_id}/deliveries", headers=served.auth("ada"))
        assert deliveries.status_code == 200, deliveries.text
        rows = deliveries.json()
        if rows and done(rows[0]):
            return deliveries
        assert time.monotonic() < deadline, rows
        time.sleep(0.05)


def test_an_admin_creates_lists_and_deletes_webhooks(served: Served) -> None:
    generated = _create(served, url="https://hooks.example.com/kb", events=["ticket.created", "ticket.resolved"])
    assert generated.status_code == 201, generated.text
    created = generated.json()
    assert len(created["secret"]) >= 32
    assert created["events"] == ["ticket.created", "ticket.resolved"]
    assert (created["created_by"], created["active"]) == ("ada", True)
    chosen = _create(served, url=f"http://{PUBLIC}:8080/in", events=["*"], secret="my-own-secret-0123456789")
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
    served.client.delete(f"/v1/webhooks/{webhook['id']}", headers=served.auth("ada"))  # nothing to deliver later


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
        ticket = _file_ticket(served)
        [row] = _deliveries_once(served, webhook["id"], lambda row: row["status"] == "delivered").json()
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


# Where webhooks may go ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://127.0.0.1:8080/kb", "127.0.0.1 is a loopback address"),
        ("http://[::1]:8080/kb", "::1 is a loopback address"),
        ("http://localhost:8080/kb", "127.0.0.1 is a loopback address"),
        ("http://2130706433/kb", "127.0.0.1 is a loopback address"),
        ("http://0x7f.1/kb", "127.0.0.1 is a loopback address"),
        ("http://[::ffff:127.0.0.1]/kb", "::ffff:127.0.0.1 is a loopback address"),
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254 is a link-local address"),
        ("http://10.0.0.1/kb", "10.0.0.1 is a private address"),
        ("https://192.168.1.20/kb", "192.168.1.20 is a private address"),
        ("http://0.0.0.0:8000/kb", "0.0.0.0 is an unspecified address"),
    ],
)
def test_registering_an_internal_target_is_422_naming_url(guarded: Served, url: str, reason: str) -> None:
    response = _create(guarded, url=url, events=["*"])
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["field"] == "url"
    assert reason in response.json()["detail"]
    assert "KB_WEBHOOK_ALLOWED_TARGETS" in response.json()["detail"]


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("https://hookuser:s3cr3tpw@hooks.example.com/kb", "credentials"),
        ("https://s3cr3tpw@hooks.example.com/kb", "credentials"),
        ("https://nowhere.invalid/kb", "cannot resolve nowhere.invalid"),
    ],
)
def test_credentials_and_unresolvable_hosts_are_422_naming_url(guarded: Served, url: str, says: str) -> None:
    response = _create(guarded, url=url, events=["*"])
    assert response.status_code == 422, response.text
    assert response.json()["field"] == "url"
    assert says in response.json()["detail"]
    assert "s3cr3tpw" not in response.text  # the problem does not repeat them


def test_the_allow_list_setting_admits_the_local_receiver(served: Served, guarded: Served) -> None:
    receiver = Receiver()
    try:
        refused = _create(guarded, url=receiver.url, events=["*"])
        assert (refused.status_code, refused.json()["field"]) == (422, "url")
        admitted = _create(served, url=receiver.url, events=["*"])
        assert admitted.status_code == 201, admitted.text
        served.client.delete(f"/v1/webhooks/{admitted.json()['id']}", headers=served.auth("ada"))
        public = _create(guarded, url="https://hooks.example.com/kb", events=["*"])
        assert public.status_code == 201, public.text
        guarded.client.delete(f"/v1/webhooks/{public.json()['id']}", headers=guarded.auth("ada"))
    finally:
        receiver.close()


def test_a_failing_receiver_shows_its_status_never_its_answer(served: Served) -> None:
    receiver = Receiver(status=500, answer=SECRET_ANSWER.encode())
    try:
        created = _create(served, url=receiver.url, events=["ticket.created"])
        assert created.status_code == 201, created.text
        webhook = created.json()
        try:
            _file_ticket(served)
            deliveries = _deliveries_once(served, webhook["id"], lambda row: row["attempts"] >= 1)
            [row] = deliveries.json()
            assert (row["status"], row["last_error"]) == ("pending", "HTTP 500 Internal Server Error")
            assert len(receiver.requests) == 1  # it was reached, and answered with the secret
            assert SECRET_ANSWER not in deliveries.text
        finally:
            served.client.delete(f"/v1/webhooks/{webhook['id']}", headers=served.auth("ada"))
    finally:
        receiver.close()


def test_a_name_that_moved_to_loopback_after_registration_is_refused_at_delivery(guarded: Served, dns: FakeDNS) -> None:
    receiver = Receiver()
    try:
        url = f"http://hooks.example.com:{receiver.port}/hooks/kb"
        created = _create(guarded, url=url, events=["ticket.created"])
        assert created.status_code == 201, created.text  # public when registered
        webhook = created.json()
        dns.names["hooks.example.com"] = ["127.0.0.1"]  # then rebound to the server itself, before any delivery
        try:
            _file_ticket(guarded)
            [row] = _deliveries_once(guarded, webhook["id"], lambda row: row["attempts"] >= 1).json()
            assert (row["status"], row["last_error"]) == ("pending", "refused: 127.0.0.1 is a loopback address")
            assert receiver.requests == []
        finally:  # nothing left to retry once the fake resolver is gone
            guarded.client.delete(f"/v1/webhooks/{webhook['id']}", headers=guarded.auth("ada"))
    finally:
        receiver.close()
