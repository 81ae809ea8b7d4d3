"""Limits: request body size, article size, and the per-caller rate limit (429 with Retry-After)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from fastapi.testclient import TestClient

from api.app import create_app
from api.limits import RateLimiter
from indexer.embedders.sentence_transformer import SentenceTransformerEmbedder
from kb.service import KnowledgeBase
from kb.settings import Settings

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


def test_rate_limit_answers_429_with_retry_after(
    small_settings: Settings, embedder: SentenceTransformerEmbedder
) -> None:
    settings = small_settings.model_copy(update={"rate_limit_per_minute": 3})
    KnowledgeBase(settings, embedder=embedder).index()
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


def test_oversized_article_is_reported_and_skipped(small_kb: KnowledgeBase, small_articles: Path) -> None:
    (small_articles / "huge.md").write_text("---\ntitle: Huge\n---\n## Symptoms\n" + "word " * 50_000)

    report = small_kb.index()

    assert any("huge.md" in p.path and "KB_MAX_ARTICLE_BYTES" in p.message for p in report.problems)
    assert report.articles == 4
