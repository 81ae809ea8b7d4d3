"""GET /v1/articles (paged) and /v1/articles/{id}: metadata, Markdown, and HTML that is safe to show."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from indexer.embedders import Embedder
from kb.service import KnowledgeBase
from tests.conftest import STARTER_ARTICLES

pytestmark = pytest.mark.both_stores

STARTER_COUNT = len(list(STARTER_ARTICLES.rglob("*.md")))  # translations included

EVIL = """\
---
id: evil-article
title: Printer driver download page
team: IT
status: published
---

## Resolution
Download the driver <script>alert(1)</script> from the portal.

<img src="driver.png" onerror="alert(2)">

Then open <a href="javascript:alert(3)">the installer</a> and follow <a href="https://example.com/help">the guide</a>.
"""

DRAFT = """\
---
id: unreleased-coffee-machine
title: Descaling the unreleased coffee machine
team: Facilities
status: draft
---

## Resolution
Descale the unreleased coffee machine with the blue tablets.
"""


@pytest.fixture
def small_client(indexed_small_kb: KnowledgeBase, small_articles: Path, embedder: Embedder) -> Iterator[TestClient]:
    """The API over a private small KB holding one hostile and one draft article."""
    (small_articles / "evil-article.md").write_text(EVIL, encoding="utf-8")
    (small_articles / "unreleased-coffee-machine.md").write_text(DRAFT, encoding="utf-8")
    report = indexed_small_kb.indexing.build()
    assert report.build.embedded == ["evil-article"]
    with TestClient(create_app(indexed_small_kb.settings, embedder=embedder)) as test_client:
        yield test_client


def _json(client: TestClient, url: str, **params: Any) -> dict[str, Any]:
    response = client.get(url, params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


# Listing ------------------------------------------------------------------------------------------------------


def test_articles_are_listed_a_page_at_a_time(client: TestClient) -> None:
    first = _json(client, "/v1/articles", page=1, per_page=10)

    assert (first["page"], first["per_page"], first["total"]) == (1, 10, STARTER_COUNT)
    assert len(first["items"]) == 10
    item = first["items"][0]
    assert set(item) == {"id", "title", "team", "tags", "language", "updated", "url"}
    assert item["url"] == f"/v1/articles/{item['id']}"


def test_pages_cover_every_article_once_in_title_order(client: TestClient) -> None:
    per_page = 20
    last = -(-STARTER_COUNT // per_page)
    pages = [_json(client, "/v1/articles", page=p, per_page=per_page) for p in range(1, last + 2)]
    items = [item for page in pages for item in page["items"]]

    assert len(pages[-1]["items"]) == 0
    assert len(items) == STARTER_COUNT
    assert len({i["id"] for i in items}) == STARTER_COUNT
    titles = [i["title"] for i in items]
    assert titles == sorted(titles)


def test_default_page_size_is_twenty(client: TestClient) -> None:
    body = _json(client, "/v1/articles")
    assert (body["page"], body["per_page"], len(body["items"])) == (1, 20, 20)


def test_articles_can_be_filtered_by_team(client: TestClient) -> None:
    body = _json(client, "/v1/articles", team="HR", per_page=100)
    assert body["total"] == len(body["items"]) > 0
    assert {i["team"] for i in body["items"]} == {"HR"}


# One article --------------------------------------------------------------------------------------------------


def test_article_has_front_matter_markdown_and_html(client: TestClient) -> None:
    body = _json(client, "/v1/articles/vpn-drops-on-public-wifi")

    assert body["id"] == "vpn-drops-on-public-wifi"
    assert body["title"] == "VPN disconnects repeatedly on hotel or public Wi-Fi"
    assert body["team"] == "IT"
    assert body["status"] == "published"
    assert body["front_matter"]["id"] == "vpn-drops-on-public-wifi"
    assert body["front_matter"]["tags"] == ["vpn", "wifi", "remote-work", "travel", "globalprotect"]
    assert body["front_matter"]["updated"] == "2026-10-14"
    assert body["markdown"].startswith("## Symptoms")
    assert "title:" not in body["markdown"]  # the front matter is not part of the Markdown
    assert "<h2>Symptoms</h2>" in body["html"]
    assert "<strong>Disconnect</strong>" in body["html"]


def test_html_is_sanitised(small_client: TestClient) -> None:
    body = _json(small_client, "/v1/articles/evil-article")
    html = body["html"]

    assert "<script" not in html
    assert "alert(1)" not in html
    assert "onerror" not in html
    assert "javascript:" not in html
    assert "<img" in html  # harmless markup survives
    assert 'href="https://example.com/help"' in html
    assert "<script>alert(1)</script>" in body["markdown"]  # the source is returned as written


def test_draft_is_not_served_listed_or_searchable(small_client: TestClient) -> None:
    # The local admin writes every article, so it reads the draft by id (employees get 404: test_publishing_api).
    response = small_client.get("/v1/articles/unreleased-coffee-machine")
    assert response.status_code == 200
    assert (response.json()["status"], response.json()["published_version"]) == ("draft", None)

    listed = _json(small_client, "/v1/articles", per_page=100)
    assert "unreleased-coffee-machine" not in [i["id"] for i in listed["items"]]
    assert listed["total"] == 5

    found = _json(small_client, "/v1/search", q="descale the unreleased coffee machine with blue tablets", limit=50)
    assert "unreleased-coffee-machine" not in [r["article_id"] for r in found["results"]]
