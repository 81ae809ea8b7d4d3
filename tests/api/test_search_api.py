"""GET /v1/search over the starter KB: ranked articles with the passage that answers, or a ticket offer."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from kb.articles import Article
from kb.articles.parsing import parse_article_file
from kb.service import KnowledgeBase
from tests.conftest import STARTER_ARTICLES

# Rankings, answers and ticket offers over the starter KB are MiniLM's.
pytestmark = [pytest.mark.real_model, pytest.mark.both_stores]

RESULT_KEYS = {"article_id", "title", "team", "section", "snippet", "score", "url"}
ANSWERABLE = [
    "my vpn keeps dropping every few minutes when I'm on hotel wifi",
    "the printer on my floor says it is offline",
    "I need to take a few days off next month, how do I ask",
    "my badge doesn't open the office door anymore",
]


def _search(client: TestClient, q: str, **params: Any) -> dict[str, Any]:
    response = client.get("/v1/search", params={"q": q, **params})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    body: dict[str, Any] = response.json()
    return body


def _article(article_id: str) -> Article:
    parsed = parse_article_file(STARTER_ARTICLES / f"{article_id}.md")
    assert isinstance(parsed, Article)
    return parsed


def _flat(text: str) -> str:
    return " ".join(text.split())


@pytest.mark.parametrize("question", ANSWERABLE)
def test_answer_has_the_documented_shape(client: TestClient, starter_kb: KnowledgeBase, question: str) -> None:
    body = _search(client, question)

    assert set(body) == {"query", "language", "corrected_query", "answered", "confidence", "results", "ticket"}
    assert body["query"] == question
    assert body["answered"] is True
    assert body["ticket"] is None
    assert 0.0 <= body["confidence"] <= 1.0
    assert 1 <= len(body["results"]) <= 5
    for result in body["results"]:
        assert set(result) >= RESULT_KEYS
        assert result["url"] == f"/v1/articles/{result['article_id']}"
        assert result["team"] in starter_kb.teams.directory.names()
        assert result["snippet"]
    scores = [r["score"] for r in body["results"]]
    assert scores == sorted(scores, reverse=True)


def test_each_article_appears_once(client: TestClient) -> None:
    body = _search(client, "vpn wifi password printer badge leave expenses", limit=50)
    ids = [r["article_id"] for r in body["results"]]
    assert len(ids) > 10
    assert len(ids) == len(set(ids))


def test_limit_caps_the_results(client: TestClient) -> None:
    assert len(_search(client, "printer", limit=2)["results"]) == 2


def test_query_whitespace_is_normalised(client: TestClient) -> None:
    assert _search(client, "  printer \t  offline  ")["query"] == "printer offline"


@pytest.mark.parametrize("question", ANSWERABLE)
def test_snippet_is_a_passage_of_the_answering_section(client: TestClient, question: str) -> None:
    top = _search(client, question)["results"][0]
    article = _article(top["article_id"])

    sections = {s.heading: _flat(s.text) for s in article.sections}
    assert top["section"] in sections
    assert top["snippet"].removesuffix("…") in sections[top["section"]]


def test_snippet_is_the_answer_not_the_article_opening(client: TestClient) -> None:
    body = _search(client, "change the VPN connection mode from Auto to SSL")
    hit = next(r for r in body["results"] if r["article_id"] == "vpn-drops-on-public-wifi")
    article = _article("vpn-drops-on-public-wifi")

    assert hit["section"] == "Resolution"
    assert "SSL" in hit["snippet"]
    opening = _flat(article.sections[0].text)[:60]
    assert not hit["snippet"].startswith(opening[:40])
    assert hit["snippet"].removesuffix("…") in _flat(article.sections[2].text)


@pytest.mark.parametrize("nonsense", ["purple elephant banana recipe", "asdkjh qwe zzzz"])
def test_nonsense_gets_no_answer_and_a_prefilled_ticket(
    client: TestClient, starter_kb: KnowledgeBase, nonsense: str
) -> None:
    body = _search(client, nonsense)

    assert body["answered"] is False
    ticket = body["ticket"]
    assert set(ticket) == {"suggested_team", "subject", "description", "search_query", "viewed_article_ids"}
    assert ticket["suggested_team"] in starter_kb.teams.directory.names()
    assert ticket["subject"] == nonsense
    assert nonsense in ticket["description"]


def test_long_question_gets_a_short_ticket_subject(client: TestClient) -> None:
    question = "zorblax " * 60
    ticket = _search(client, question)["ticket"]
    assert ticket is not None
    assert len(ticket["subject"]) <= 120
    assert ticket["subject"].endswith("…")


def test_each_search_is_logged_in_the_store(client: TestClient, starter_kb: KnowledgeBase) -> None:
    question = "my badge doesn't open the office door anymore"
    body = _search(client, question, limit=3)

    logged = starter_kb.store.search_log.recent(limit=1)[0]

    assert logged["query"] == question
    assert logged["answered"] == body["answered"]
    assert logged["confidence"] == pytest.approx(body["confidence"])
    assert logged["top_ids"] == [r["article_id"] for r in body["results"]]
    assert logged["latency_ms"] > 0
    assert logged["created_at"] is not None


def test_unanswered_searches_are_logged_too(client: TestClient, starter_kb: KnowledgeBase) -> None:
    _search(client, "purple elephant banana recipe")
    logged = starter_kb.store.search_log.recent(limit=1)[0]
    assert (logged["query"], logged["answered"]) == ("purple elephant banana recipe", False)
