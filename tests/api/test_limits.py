"""Limits: request body size, article size, the per-user rate limit and the failed-authentication limit (429 with
Retry-After), and the sign-in audit that is written once, not per request."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.limits import Limits, RateLimiter, TooManyRequests, address_key
from indexer.embedders import Embedder
from kb.service import KnowledgeBase
from kb.settings import Settings

pytestmark = pytest.mark.both_stores

TICKET_DESCRIPTION = ("The printer says offline. " * 40).strip()
TICKET = {"subject": "Printer offline", "description": "It says offline.", "requester": "ana", "team": "IT"}


def test_oversized_body_is_413_problem_json_naming_the_limit(client: TestClient) -> None:
    response = client.post("/v1/tickets", json={**TICKET, "description": "x" * 70_000})

    assert response.status_code == 413
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "KB_MAX_BODY_BYTES" in response.json()["detail"]
    assert response.json()["field"] == "body"


def _chunked(body: bytes, size: int = 1000) -> Iterator[bytes]:
    """A body sent with Transfer-Encoding: chunked, so there is no Content-Length to trust."""
    for start in range(0, len(body), size):
        yield body[start : start + size]


def test_an_oversized_chunked_body_is_413_too(client: TestClient) -> None:
    body = json.dumps({**TICKET, "description": "x" * 70_000}).encode()
    response = client.post("/v1/tickets", content=_chunked(body), headers={"Content-Type": "application/json"})

    assert response.status_code == 413
    assert response.json()["field"] == "body"


def test_a_small_chunked_body_reaches_the_route_intact(client: TestClient) -> None:
    body = json.dumps({**TICKET, "description": "The printer says offline. " * 40}).encode()
    response = client.post("/v1/tickets", content=_chunked(body, 100), headers={"Content-Type": "application/json"})

    assert response.status_code == 201, response.text
    assert response.json()["description"] == TICKET_DESCRIPTION


def test_rate_limit_answers_429_with_retry_after(small_settings: Settings, embedder: Embedder) -> None:
    settings = small_settings.model_copy(update={"rate_limit_per_minute": 3})
    KnowledgeBase(settings, embedder=embedder).indexing.build()
    with TestClient(create_app(settings, embedder=embedder)) as limited:
        statuses = [limited.get("/v1/articles").status_code for _ in range(4)]
        blocked = limited.get("/v1/articles")
        health = limited.get("/healthz")

    assert statuses[:3] == [200, 200, 200]
    assert blocked.status_code == 429
    assert int(blocked.headers["Retry-After"]) >= 1
    assert "KB_RATE_LIMIT_PER_MINUTE" in blocked.json()["detail"]
    assert health.status_code == 200  # probes are never limited


def test_rate_limiter_refills_over_time() -> None:
    now = [0.0]
    limiter = RateLimiter(60, clock=lambda: now[0])
    assert all(limiter.retry_after("a") == 0 for _ in range(60))
    assert limiter.retry_after("a") == 1
    assert limiter.retry_after("b") == 0  # callers do not share a bucket
    now[0] += 1.0
    assert limiter.retry_after("a") == 0


def test_the_bucket_map_stays_bounded_however_many_callers_come() -> None:
    now = [0.0]
    limiter = RateLimiter(5, clock=lambda: now[0], max_callers=100)
    for caller in range(10_000):
        limiter.retry_after(f"addr:{caller}")
        assert len(limiter) <= 100
    assert limiter.retry_after("addr:9999") == 0  # the most recent callers keep their buckets
    assert len(limiter) == 100
    # A bucket untouched for a minute has refilled: it is dropped on the next call, whoever makes it.
    now[0] += 60.0
    limiter.retry_after("someone")
    assert len(limiter) == 1


def test_an_exhausted_bucket_is_kept_while_it_matters() -> None:
    now = [0.0]
    limiter = RateLimiter(2, clock=lambda: now[0], max_callers=100)
    assert [limiter.retry_after("a") for _ in range(3)] == [0, 0, 30]
    for caller in range(50):  # other callers come and go
        limiter.retry_after(str(caller))
    now[0] += 10.0
    assert limiter.retry_after("a") == 20  # still waiting: not forgotten, not reset


def test_refund_gives_back_one_request_only() -> None:
    limiter = RateLimiter(2, clock=lambda: 0.0)
    assert limiter.retry_after("a") == 0
    limiter.refund("a")
    limiter.refund("a")  # never above the burst size
    assert [limiter.retry_after("a") for _ in range(3)] == [0, 0, 30]


def test_no_rate_limit_means_no_failure_limit_either(tmp_path: Path) -> None:
    off = Limits(Settings(data_dir=tmp_path, rate_limit_per_minute=0, auth_failures_per_minute=1))
    for _ in range(100):
        off.begin_authentication("10.0.0.1")
        off.admit_user("rita")
    on = Limits(Settings(data_dir=tmp_path, auth_failures_per_minute=1))
    on.begin_authentication("10.0.0.1")
    with pytest.raises(TooManyRequests):
        on.begin_authentication("10.0.0.1")


def test_ipv6_callers_are_counted_per_64_network() -> None:
    assert address_key("2001:db8:1:2:aaaa::1") == address_key("2001:db8:1:2:bbbb::2") == "2001:db8:1:2::/64"
    assert address_key("2001:db8:1:3::1") != address_key("2001:db8:1:2::1")
    assert address_key("10.0.0.1") == "10.0.0.1"
    assert address_key("::1") == "::1"


@pytest.fixture
def token_settings(indexed_small_settings: Settings) -> Settings:
    return indexed_small_settings.model_copy(update={"auth": "token"})


def _audit_rows(kb: KnowledgeBase, action: str) -> list[dict[str, Any]]:
    return [row for row in kb.store.audit.recent(10_000) if row["action"] == action]


def test_respellings_of_a_token_share_one_bucket(token_settings: Settings, embedder: Embedder) -> None:
    """The limit is per user, counted after authentication: `bearer`, `BEARER` or extra spaces are the same token."""
    settings = token_settings.model_copy(update={"rate_limit_per_minute": 3})
    with TestClient(create_app(settings, embedder=embedder)) as client:
        kb: KnowledgeBase = client.app.state.kb  # type: ignore[attr-defined]
        _, token = kb.users.add("rita", email="rita@example.com", role="employee")
        _, other = kb.users.add("erik", email="erik@example.com", role="employee")
        statuses = [
            client.get("/v1/articles", headers={"Authorization": f"Bearer {token}"}).status_code for _ in range(3)
        ]
        respelled = [
            client.get("/v1/articles", headers={"Authorization": spelling})
            for spelling in (f"bearer {token}", f"BEARER  {token}", f"Bearer {token}  ", f"bEaReR\t{token}")
        ]
        someone_else = client.get("/v1/articles", headers={"Authorization": f"Bearer {other}"})

    assert statuses == [200, 200, 200]
    assert [r.status_code for r in respelled] == [429, 429, 429, 429]
    assert all(int(r.headers["Retry-After"]) >= 1 for r in respelled)
    assert "KB_RATE_LIMIT_PER_MINUTE" in respelled[0].json()["detail"]
    assert someone_else.status_code == 200  # one bucket per user, not one for everybody


def test_bad_tokens_from_one_address_hit_429_and_stop_adding_audit_rows(
    token_settings: Settings, embedder: Embedder
) -> None:
    settings = token_settings.model_copy(update={"rate_limit_per_minute": 1000, "auth_failures_per_minute": 5})
    app = create_app(settings, embedder=embedder)
    with TestClient(app) as client, TestClient(app, client=("10.9.8.7", 4000)) as elsewhere:
        kb: KnowledgeBase = client.app.state.kb  # type: ignore[attr-defined]
        _, token = kb.users.add("rita", email="rita@example.com", role="employee")
        responses = [
            client.get("/v1/articles", headers={"Authorization": f"Bearer {secrets.token_urlsafe(32)}"})
            for _ in range(60)
        ]
        # Past the budget the address must wait, whatever it sends: its tokens are not even looked up.
        blocked_good_token = client.get("/v1/articles", headers={"Authorization": f"Bearer {token}"})
        # Other addresses have their own budget.
        other_address = elsewhere.get("/v1/articles", headers={"Authorization": f"Bearer {token}"})
        failures = _audit_rows(kb, "auth.failed")

    assert [r.status_code for r in responses] == [401] * 5 + [429] * 55
    refused = responses[-1]
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert int(refused.headers["Retry-After"]) >= 1
    assert "KB_AUTH_FAILURES_PER_MINUTE" in refused.json()["detail"]
    assert len(failures) == 5  # the audit table does not grow past the budget
    assert blocked_good_token.status_code == 429
    assert other_address.status_code == 200


def test_good_tokens_do_not_spend_the_failure_budget(token_settings: Settings, embedder: Embedder) -> None:
    settings = token_settings.model_copy(update={"rate_limit_per_minute": 1000, "auth_failures_per_minute": 2})
    with TestClient(create_app(settings, embedder=embedder)) as client:
        kb: KnowledgeBase = client.app.state.kb  # type: ignore[attr-defined]
        _, token = kb.users.add("rita", email="rita@example.com", role="employee")
        good = [client.get("/v1/articles", headers={"Authorization": f"Bearer {token}"}) for _ in range(10)]
        bad = [client.get("/v1/articles", headers={"Authorization": "Bearer wrong"}) for _ in range(3)]

    assert [r.status_code for r in good] == [200] * 10
    assert [r.status_code for r in bad] == [401, 401, 429]


def test_fifty_requests_with_one_token_write_one_sign_in_row(token_settings: Settings, embedder: Embedder) -> None:
    with TestClient(create_app(token_settings, embedder=embedder)) as client:
        kb: KnowledgeBase = client.app.state.kb  # type: ignore[attr-defined]
        _, token = kb.users.add("rita", email="rita@example.com", role="employee")
        statuses = {
            client.get("/v1/articles", headers={"Authorization": f"Bearer {token}"}).status_code for _ in range(50)
        }
        sign_ins = _audit_rows(kb, "auth.sign_in")

    assert statuses == {200}
    assert [(row["actor"], row["origin"]) for row in sign_ins] == [("rita", "testclient")]


def test_oversized_article_is_reported_and_skipped(small_kb: KnowledgeBase, small_articles: Path) -> None:
    (small_articles / "huge.md").write_text("---\ntitle: Huge\n---\n## Symptoms\n" + "word " * 50_000)

    report = small_kb.indexing.build()

    assert any("huge.md" in p.path and "KB_MAX_ARTICLE_BYTES" in p.message for p in report.problems)
    assert report.articles == 4
