"""Who sees what over HTTP: restricted articles never leak, tickets stay with their people, tokens are checked.

One small KB (the `small_articles` set plus a restricted HR article and an XSS article) is indexed once for
the module, with users of every kind, and served with `auth = token`.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from indexer.embedders.sentence_transformer import SentenceTransformerEmbedder
from kb.errors import Unauthorized
from kb.service import KnowledgeBase
from kb.settings import Settings
from kb.users import UserService
from tests.conftest import SMALL_ARTICLE_FILES, TRUSTED, bearer, copy_small_articles, stable_ticket

# Ticket offers (low confidence, the nearest restricted article) depend on MiniLM's ranking.
pytestmark = [pytest.mark.real_model, pytest.mark.both_stores]

SECRET_ID = "payroll-bonus-secret"
SECRET_WORD = "zanzibarquokka"
SECRET_TITLE = "Quarterly bonus calibration for payroll staff"
# Anything of these in a response means the restricted article leaked.
MARKERS = (SECRET_WORD, SECRET_ID, SECRET_TITLE.lower())

SECRET_ARTICLE = f"""\
---
id: {SECRET_ID}
title: {SECRET_TITLE}
team: HR
tags: [payroll, bonus, printer]
audience: [hr]
status: published
updated: 2026-10-01
---

## Symptoms
- The {SECRET_WORD} bonus calibration sheet will not print: the printer on your floor says it is offline.
- The {SECRET_WORD} quarterly bonus calibration totals for payroll staff do not match the budget.

## Cause
The {SECRET_WORD} calibration run locks the payroll printer queue, so the floor printer shows as offline
while the quarterly bonus calibration for payroll staff is being printed.

## Resolution
1. Wait until the {SECRET_WORD} calibration run has finished, then print the bonus sheets again.
2. If the printer on your floor still says it is offline, release the job at another printer.
3. Send the {SECRET_WORD} calibration totals to the payroll lead before the quarter closes.
"""

XSS_ID = "coffee-machine-xss"
XSS_ARTICLE = f"""\
---
id: {XSS_ID}
title: "Coffee machine descaling <script>alert(1)</script> <img src=x onerror=alert(1)>"
team: Facilities
tags: [kitchen, coffee]
status: published
---

## Symptoms
The kitchen coffee machine blinks red. <script>alert(1)</script>

<img src=x onerror=alert(1)>

## Resolution
Follow the [descaling guide](javascript:alert(1)) or [x](javascript:alert(1)) and refill the water tank.
Or <a href="javascript:alert(1)">click here</a> or <a href=" JaVaScRiPt:alert(1)" onclick="alert(1)">here</a>.
"""

PRINTER_QUERY = "the printer on my floor says it is offline"
SEARCH_QUERIES = (SECRET_WORD, "quarterly bonus calibration payroll", PRINTER_QUERY)


@dataclass(frozen=True)
class AccessKb:
    kb: KnowledgeBase
    settings: Settings
    tokens: dict[str, str]  # user name -> bearer token


def _users_at(kb: KnowledgeBase, when: datetime, *, token_days: int) -> UserService:
    """The users of `kb` as seen by a clock stopped at `when`."""
    return UserService(kb.store.users, kb.store.audit, token_days, clock=lambda: when)


def _assert_no_leak(response: httpx.Response, *, echo: str | None = None) -> None:
    """Neither the body nor a header mentions the restricted article. `echo` is the caller's own query,
    which a search response repeats (as `query`, ticket subject and quoted in the ticket description)."""
    headers = " ".join(f"{k}: {v}" for k, v in response.headers.items()).lower()
    for marker in MARKERS:
        assert marker not in headers, (marker, headers)
    body = response.json()
    if echo is not None:
        assert body["query"] == echo
        body = {**body, "query": ""}
        if body.get("ticket"):
            ticket = dict(body["ticket"])
            assert ticket["subject"] == ticket["search_query"] == echo
            ticket["subject"] = ticket["search_query"] = ""
            assert f"“{echo}”" in ticket["description"]
            ticket["description"] = ticket["description"].replace(f"“{echo}”", "", 1)
            body["ticket"] = ticket
    text = json.dumps(body, ensure_ascii=False).lower()
    for marker in MARKERS:
        assert marker not in text, (marker, text)


@pytest.fixture(scope="module")
def access(
    tmp_path_factory: pytest.TempPathFactory,
    embedder: SentenceTransformerEmbedder,
    new_database_url: Callable[[Path], str],
) -> Iterator[AccessKb]:
    root = tmp_path_factory.mktemp("access")
    articles = copy_small_articles(root / "articles")
    (articles / f"{SECRET_ID}.md").write_text(SECRET_ARTICLE, encoding="utf-8")
    (articles / f"{XSS_ID}.md").write_text(XSS_ARTICLE, encoding="utf-8")
    base = Settings(
        data_dir=root / "data",
        database_url=new_database_url(root / "data"),
        articles_dir=articles,
        trusted_clients=TRUSTED,
        rate_limit_per_minute=0,
    )
    settings = base.model_copy(update={"auth": "token"})
    kb = KnowledgeBase(settings, embedder=embedder)
    report = kb.indexing.build(strict=True)
    assert report.articles == len(SMALL_ARTICLE_FILES) - 1 + 2
    users: dict[str, dict[str, Any]] = {
        "hana": {"role": "employee", "groups": ["hr"]},  # the insider
        "erik": {"role": "employee", "groups": ["engineering"]},  # the outsider
        "bea": {"role": "employee", "groups": ["engineering"]},
        "ada": {"role": "admin"},
        "ivan": {"role": "agent", "teams": ["IT"]},
        "fred": {"role": "agent", "teams": ["Facilities"]},
        "rita": {"role": "employee"},  # revoked below
    }
    tokens = {}
    for name, fields in users.items():
        _, tokens[name] = kb.users.add(name, email=f"{name}@example.com", **fields)
    kb.users.revoke("rita")
    yield AccessKb(kb, settings, tokens)
    kb.close()


@pytest.fixture(scope="module")
def api(access: AccessKb, embedder: SentenceTransformerEmbedder) -> Iterator[TestClient]:
    with TestClient(create_app(access.settings, embedder=embedder)) as test_client:
        yield test_client


OUTSIDERS = ("erik", "ivan")


# The leak matrix --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("outsider", OUTSIDERS)
@pytest.mark.parametrize("query", SEARCH_QUERIES)
def test_search_never_shows_a_restricted_article_to_an_outsider(
    api: TestClient, access: AccessKb, outsider: str, query: str
) -> None:
    full: list[str] | None = None
    for limit in range(50, 0, -1):
        response = api.get("/v1/search", params={"q": query, "limit": limit}, headers=bearer(access.tokens[outsider]))
        assert response.status_code == 200, response.text
        _assert_no_leak(response, echo=query)
        ids = [r["article_id"] for r in response.json()["results"]]
        assert len(ids) <= limit
        if full is None:
            full = ids
        # A smaller limit is the head of the same ranking: nothing hidden reshapes the order.
        assert ids == full[:limit]


MISSPELT_SECRET = SECRET_WORD[:-2] + SECRET_WORD[-1]  # one letter dropped


@pytest.mark.parametrize("outsider", OUTSIDERS)
def test_spelling_corrections_never_suggest_a_word_only_hidden_articles_hold(
    api: TestClient, access: AccessKb, outsider: str
) -> None:
    response = api.get("/v1/search", params={"q": MISSPELT_SECRET}, headers=bearer(access.tokens[outsider]))
    assert response.status_code == 200, response.text
    assert response.json()["corrected_query"] is None
    _assert_no_leak(response, echo=MISSPELT_SECRET)
    insider = api.get("/v1/search", params={"q": MISSPELT_SECRET}, headers=bearer(access.tokens["hana"])).json()
    assert insider["corrected_query"] == SECRET_WORD  # the insider's own words are fair game


def test_the_insider_finds_the_restricted_article(api: TestClient, access: AccessKb) -> None:
    for reader in ("hana", "ada"):
        response = api.get("/v1/search", params={"q": SECRET_WORD}, headers=bearer(access.tokens[reader]))
        assert response.status_code == 200, response.text
        results = response.json()["results"]
        assert results and results[0]["article_id"] == SECRET_ID
        assert SECRET_WORD in response.text
        with pytest.raises(AssertionError):  # the leak detector does see the article when it is there
            _assert_no_leak(response, echo=SECRET_WORD)

        response = api.get(
            "/v1/search", params={"q": "quarterly bonus calibration payroll"}, headers=bearer(access.tokens[reader])
        )
        assert response.json()["results"][0]["article_id"] == SECRET_ID


def test_a_restricted_article_does_not_push_a_readable_one_out_of_the_top_k(api: TestClient, access: AccessKb) -> None:
    insider = api.get("/v1/search", params={"q": PRINTER_QUERY, "limit": 5}, headers=bearer(access.tokens["hana"]))
    insider_ids = [r["article_id"] for r in insider.json()["results"]]
    assert SECRET_ID in insider_ids  # it really competes for this question
    for outsider in OUTSIDERS:
        response = api.get(
            "/v1/search", params={"q": PRINTER_QUERY, "limit": 1}, headers=bearer(access.tokens[outsider])
        )
        results = response.json()["results"]
        assert [r["article_id"] for r in results] == ["printer-offline-floor-printer"]


@pytest.mark.parametrize("query", SEARCH_QUERIES)
def test_the_outsider_gets_the_insider_ranking_minus_the_restricted_article(
    api: TestClient, access: AccessKb, query: str
) -> None:
    """Where the restricted article ranks for the insider, the outsider gets the readable ones instead. Their order
    may differ below the top: keyword statistics count only the rows each reader may see (the next test pins the
    outsider's scores to those of a KB without the article)."""
    insider = api.get("/v1/search", params={"q": query, "limit": 50}, headers=bearer(access.tokens["hana"]))
    readable = [r["article_id"] for r in insider.json()["results"] if r["article_id"] != SECRET_ID]
    assert len(readable) == len(insider.json()["results"]) - 1
    full = api.get("/v1/search", params={"q": query, "limit": 50}, headers=bearer(access.tokens["erik"])).json()
    ranking = [r["article_id"] for r in full["results"]]
    assert sorted(ranking) == sorted(readable)
    for limit in (1, 2, 3):
        outsider = api.get("/v1/search", params={"q": query, "limit": limit}, headers=bearer(access.tokens["erik"]))
        assert [r["article_id"] for r in outsider.json()["results"]] == ranking[:limit]


@pytest.fixture(scope="module")
def twin(
    access: AccessKb,
    tmp_path_factory: pytest.TempPathFactory,
    embedder: SentenceTransformerEmbedder,
    new_database_url: Callable[[Path], str],
) -> Iterator[KnowledgeBase]:
    """The same KB, but the restricted article says `xylophonewombat` where it said the secret word: equal in
    every statistic except that the secret word exists nowhere."""
    secret = SECRET_ARTICLE.replace(SECRET_WORD, "xylophonewombat")
    root = tmp_path_factory.mktemp("twin")
    kb = _built_variant(
        access, root, new_database_url(root / "data"), embedder, lambda f: f.write_text(secret, "utf-8")
    )
    yield kb
    kb.close()


@pytest.mark.parametrize("query", [f"{SECRET_WORD} printer offline", f"my printer says {SECRET_WORD}"])
def test_a_word_only_in_hidden_articles_does_not_change_an_outsiders_scores(
    access: AccessKb, twin: KnowledgeBase, query: str
) -> None:
    outsider = access.kb.users.authenticate(access.tokens["erik"])
    here = access.kb.search.find(query, 10, reader=outsider, record=False)
    there = twin.search.find(query, 10, reader=outsider, record=False)
    assert [(h.article_id, h.score) for h in here.hits] == [(h.article_id, h.score) for h in there.hits]
    assert here.confidence == there.confidence


@pytest.fixture(scope="module")
def without_secret(
    access: AccessKb,
    tmp_path_factory: pytest.TempPathFactory,
    embedder: SentenceTransformerEmbedder,
    new_database_url: Callable[[Path], str],
) -> Iterator[KnowledgeBase]:
    """The same KB without the restricted article at all: what an outsider's world should look like."""
    root = tmp_path_factory.mktemp("without-secret")
    kb = _built_variant(access, root, new_database_url(root / "data"), embedder, Path.unlink)
    yield kb
    kb.close()


def _built_variant(
    access: AccessKb, root: Path, store: str, embedder: SentenceTransformerEmbedder, edit: Callable[[Path], object]
) -> KnowledgeBase:
    """`access`'s KB in `root`, on the `store` of its own, built after `edit` changed its restricted article's file."""
    articles = root / "articles"
    shutil.copytree(access.settings.articles_dir, articles)
    edit(articles / f"{SECRET_ID}.md")
    update = {"data_dir": root / "data", "articles_dir": articles, "database_url": store}
    kb = KnowledgeBase(access.settings.model_copy(update=update), embedder)
    kb.indexing.build(strict=True)
    return kb


@pytest.mark.parametrize("query", [PRINTER_QUERY, "quarterly bonus calibration payroll", "printer offline payroll"])
def test_hidden_articles_do_not_shift_an_outsiders_scores_through_corpus_statistics(
    access: AccessKb, without_secret: KnowledgeBase, query: str
) -> None:
    """BM25's idf and average length count only readable chunks: shared words in a hidden article must not
    move a single score, so an outsider cannot infer a hidden article from scores either."""
    outsider = access.kb.users.authenticate(access.tokens["erik"])
    here = access.kb.search.find(query, 50, reader=outsider, record=False)
    there = without_secret.search.find(query, 50, reader=outsider, record=False)
    assert [(h.article_id, h.score) for h in here.hits] == [(h.article_id, h.score) for h in there.hits]
    assert here.confidence == there.confidence


def _all_article_ids(api: TestClient, token: str, per_page: int, **params: str) -> tuple[list[str], int]:
    ids: list[str] = []
    totals: set[int] = set()
    page = 1
    while True:
        response = api.get("/v1/articles", params={"page": page, "per_page": per_page, **params}, headers=bearer(token))
        assert response.status_code == 200, response.text
        body = response.json()
        totals.add(body["total"])
        if not body["items"]:
            break
        ids += [item["id"] for item in body["items"]]
        page += 1
    assert len(totals) == 1  # every page reports the same total
    return ids, totals.pop()


@pytest.mark.parametrize("per_page", [1, 2, 3])
@pytest.mark.parametrize("team", [None, "HR"])
def test_article_listing_and_total_hide_restricted_articles(
    api: TestClient, access: AccessKb, per_page: int, team: str | None
) -> None:
    params = {"team": team} if team else {}
    insider_ids, insider_total = _all_article_ids(api, access.tokens["hana"], per_page, **params)
    assert SECRET_ID in insider_ids
    assert len(insider_ids) == len(set(insider_ids)) == insider_total
    for outsider in OUTSIDERS:
        ids, total = _all_article_ids(api, access.tokens[outsider], per_page, **params)
        assert SECRET_ID not in ids
        assert len(ids) == len(set(ids)) == total == insider_total - 1
        assert set(ids) == set(insider_ids) - {SECRET_ID}
        for page in range(1, total + 2):
            response = api.get(
                "/v1/articles",
                params={"page": page, "per_page": per_page, **params},
                headers=bearer(access.tokens[outsider]),
            )
            _assert_no_leak(response)


@pytest.mark.parametrize("tag", [None, "printer", "payroll"])
def test_article_facets_and_tag_filter_count_only_readable_articles(
    api: TestClient, access: AccessKb, tag: str | None
) -> None:
    params = {"tag": tag} if tag else {}
    insider = api.get("/v1/articles", params=params, headers=bearer(access.tokens["hana"])).json()
    for outsider in OUTSIDERS:
        response = api.get("/v1/articles", params=params, headers=bearer(access.tokens[outsider]))
        _assert_no_leak(response)
        body = response.json()
        assert body["total"] == insider["total"] - 1
        assert body["facets"]["team"] == {**insider["facets"]["team"], "HR": insider["facets"]["team"]["HR"] - 1}
        for secret_tag in ("payroll", "bonus", "printer"):
            expected = insider["facets"]["tag"][secret_tag] - 1
            assert body["facets"]["tag"].get(secret_tag, 0) == expected
        if tag:
            assert all(tag in item["tags"] for item in body["items"])


@pytest.mark.parametrize("outsider", OUTSIDERS)
@pytest.mark.parametrize("article_id", ["printer-offline-floor-printer", XSS_ID])
def test_related_articles_never_include_a_restricted_one(
    api: TestClient, access: AccessKb, outsider: str, article_id: str
) -> None:
    insider = api.get(f"/v1/articles/{article_id}/related", params={"limit": 50}, headers=bearer(access.tokens["hana"]))
    readable = [r["article_id"] for r in insider.json() if r["article_id"] != SECRET_ID]
    assert article_id not in readable
    for limit in (1, 2, 50):
        response = api.get(
            f"/v1/articles/{article_id}/related", params={"limit": limit}, headers=bearer(access.tokens[outsider])
        )
        assert response.status_code == 200, response.text
        _assert_no_leak(response)
        assert [r["article_id"] for r in response.json()] == readable[:limit]


def test_the_insider_sees_the_restricted_article_among_the_related_ones(api: TestClient, access: AccessKb) -> None:
    response = api.get(
        "/v1/articles/printer-offline-floor-printer/related", params={"limit": 3}, headers=bearer(access.tokens["hana"])
    )
    assert SECRET_ID in [r["article_id"] for r in response.json()]


@pytest.mark.parametrize("outsider", OUTSIDERS)
def test_related_articles_of_a_restricted_article_are_a_404_like_a_missing_one(
    api: TestClient, access: AccessKb, outsider: str
) -> None:
    headers = bearer(access.tokens[outsider])
    hidden = api.get(f"/v1/articles/{SECRET_ID}/related", headers=headers)
    missing = api.get("/v1/articles/no-such-article-at-all/related", headers=headers)
    assert hidden.status_code == missing.status_code == 404
    assert json.loads(hidden.text.replace(SECRET_ID, "ID")) == json.loads(
        missing.text.replace("no-such-article-at-all", "ID")
    )


@pytest.mark.parametrize("outsider", OUTSIDERS)
def test_a_restricted_article_is_a_404_like_a_missing_one(api: TestClient, access: AccessKb, outsider: str) -> None:
    headers = bearer(access.tokens[outsider])
    hidden = api.get(f"/v1/articles/{SECRET_ID}", headers=headers)
    missing = api.get("/v1/articles/no-such-article-at-all", headers=headers)

    assert hidden.status_code == missing.status_code == 404
    assert hidden.headers["content-type"] == missing.headers["content-type"]
    assert set(hidden.headers) == set(missing.headers)
    hidden_body = json.loads(hidden.text.replace(SECRET_ID, "ID"))
    missing_body = json.loads(missing.text.replace("no-such-article-at-all", "ID"))
    assert hidden_body == missing_body
    # Only the id the caller typed is echoed; nothing else about the article.
    assert SECRET_WORD not in hidden.text and SECRET_TITLE.lower() not in hidden.text.lower()


@pytest.mark.parametrize("reader", ["hana", "ada"])
def test_the_insider_and_an_admin_read_the_restricted_article(api: TestClient, access: AccessKb, reader: str) -> None:
    response = api.get(f"/v1/articles/{SECRET_ID}", headers=bearer(access.tokens[reader]))
    assert response.status_code == 200, response.text
    assert response.json()["title"] == SECRET_TITLE
    assert SECRET_WORD in response.json()["html"]


@pytest.mark.parametrize("outsider", OUTSIDERS)
def test_tickets_and_ticket_offers_do_not_leak_to_an_outsider(api: TestClient, access: AccessKb, outsider: str) -> None:
    headers = bearer(access.tokens[outsider])
    created = api.post(
        "/v1/tickets",
        json={
            "subject": "Question about the quarterly bonus calibration",
            "description": "When is the payroll bonus calibration for this quarter done, and who approves it?",
            "requester": outsider,
        },
        headers=headers,
    )
    assert created.status_code == 201, created.text
    _assert_no_leak(created)
    fetched = api.get(f"/v1/tickets/{created.json()['id']}", headers=headers)
    assert fetched.status_code == 200, fetched.text
    _assert_no_leak(fetched)
    assert stable_ticket(fetched.json()) == stable_ticket(created.json())

    offer = api.get("/v1/search", params={"q": "who approves the bonus calibration", "limit": 5}, headers=headers)
    assert offer.status_code == 200
    _assert_no_leak(offer, echo="who approves the bonus calibration")


# Text written for others -------------------------------------------------------------------------------------
OFFER_QUERY = "budget question"  # no answer; the insider's nearest article is the restricted one


def _texts_mention_the_secret(*texts: str) -> list[str]:
    return [marker for marker in MARKERS for text in texts if marker in text.lower()]


def test_a_ticket_made_from_the_insiders_offer_does_not_leak_to_the_team_that_works_it(
    api: TestClient, access: AccessKb
) -> None:
    """Hana (hr) gets a ticket offer whose nearest article is hr-only and submits it as offered. Every agent of the
    routed team reads that ticket, as do its draft article, the event payload and the e-mails: none of that text
    may name the restricted article. The article id still travels in `viewed_article_ids`, which each view
    filters for its reader."""
    kb: KnowledgeBase = api.app.state.kb  # type: ignore[attr-defined]
    events: list[Any] = []
    kb.events.subscribe(events.append)
    search = api.get("/v1/search", params={"q": OFFER_QUERY}, headers=bearer(access.tokens["hana"]))
    body = search.json()
    assert SECRET_ID in [r["article_id"] for r in body["results"]]  # the insider does see it
    offer = body["ticket"]
    assert offer is not None, body
    assert offer["search_query"] == OFFER_QUERY and SECRET_ID in offer["viewed_article_ids"]
    assert not _texts_mention_the_secret(offer["subject"], offer["description"])
    team = offer.pop("suggested_team")
    hr_agent = f"hugo-{team.lower()}"
    _, token = kb.users.add(hr_agent, email="hugo@example.com", role="agent", teams=[team])  # not in group hr

    created = api.post(
        "/v1/tickets", json={**offer, "team": team, "requester": "hana"}, headers=bearer(access.tokens["hana"])
    )
    assert created.status_code == 201, created.text
    url = f"/v1/tickets/{created.json()['id']}"
    assert api.get(url, headers=bearer(access.tokens["hana"])).json()["viewed_article_ids"][0] == SECRET_ID
    agent_view = api.get(url, headers=bearer(token))
    assert agent_view.status_code == 200, agent_view.text
    _assert_no_leak(agent_view)
    assert SECRET_ID not in agent_view.json()["viewed_article_ids"]

    resolved = api.patch(
        url, json={"status": "resolved", "resolution": "Re-ran the budget export."}, headers=bearer(token)
    )
    assert resolved.status_code == 200, resolved.text
    draft = api.post(f"{url}/draft-article", headers=bearer(token))
    assert draft.status_code == 201, draft.text
    _assert_no_leak(draft)

    from kb.notify.email import compose

    mine = [e for e in events if e.data.get("ticket", {}).get("id") == created.json()["id"]]
    assert {e.kind for e in mine} >= {"ticket.created", "ticket.resolved"}
    for event in mine:
        payload = json.dumps(event.data, ensure_ascii=False, default=str)
        assert not _texts_mention_the_secret(payload), payload
        for message in compose(event, "kb@example.com"):
            assert not _texts_mention_the_secret(str(message["Subject"]), message.get_content())


def test_knowledge_gaps_belong_to_the_team_of_the_top_unrestricted_result(api: TestClient, access: AccessKb) -> None:
    """The insider's unanswered search ranks the hr-only (HR-owned) article first and an IT article next: it is
    IT's gap, not HR's, so HR's agents do not learn what the restricted article is about from the query."""
    query = "printer payroll"
    kb: KnowledgeBase = api.app.state.kb  # type: ignore[attr-defined]
    insider = kb.users.authenticate(access.tokens["hana"])
    ranking = [h.article_id for h in kb.search.find(query, 5, reader=insider, record=False).hits]
    assert ranking[:2] == [SECRET_ID, "printer-offline-floor-printer"]  # HR's restricted article, then IT's
    kb.store.search_log.add(  # as the API records it when that search finds no confident answer
        query=query, answered=False, confidence=0.2, top_ids=ranking, latency_ms=10.0, user="hana"
    )
    _, hr_token = kb.users.add("greta", email="greta@example.com", role="agent", teams=["HR"])

    def gaps(token: str) -> list[str]:
        response = api.get("/v1/metrics/service", headers=bearer(token))
        assert response.status_code == 200, response.text
        return [gap["example"] for gap in response.json()["knowledge_gaps"]]

    assert query not in gaps(hr_token)
    assert query in gaps(access.tokens["ivan"])


@pytest.mark.parametrize("outsider", OUTSIDERS)
def test_similar_cases_and_ticket_lists_do_not_leak_to_an_outsider(
    api: TestClient, access: AccessKb, outsider: str
) -> None:
    payload = {
        "subject": "The floor printer says offline during the bonus calibration",
        "description": "The quarterly bonus calibration sheets for payroll staff do not print.",
        "requester": "x",
    }
    for reader in (outsider, "hana"):
        created = api.post("/v1/tickets", json=payload, headers=bearer(access.tokens[reader]))
        assert created.status_code == 201, created.text
        similar = api.get(
            f"/v1/tickets/{created.json()['id']}/similar", params={"limit": 20}, headers=bearer(access.tokens[reader])
        )
        assert similar.status_code == 200, similar.text
        ids = [a["article_id"] for a in similar.json()["articles"]]
        if reader == "hana":
            assert SECRET_ID in ids  # the insider's own ticket does find it
        else:
            _assert_no_leak(similar)
            listing = api.get("/v1/tickets", params={"per_page": 100}, headers=bearer(access.tokens[reader]))
            _assert_no_leak(listing)
            assert all(t["requester"] == reader or t["team"] in ("IT",) for t in listing.json()["items"])


def test_the_articles_a_requester_viewed_are_shown_only_to_those_who_may_read_them(
    api: TestClient, access: AccessKb
) -> None:
    """Hana (hr) read the restricted article before filing with IT: Ivan (IT, not hr) works the ticket but must
    not learn the article's id from its search context; Hana and an admin still see it."""
    created = api.post(
        "/v1/tickets",
        json={
            "subject": "Printer offline",
            "description": "The floor printer says offline.",
            "requester": "x",
            "team": "IT",
            "viewed_article_ids": [SECRET_ID, "printer-offline-floor-printer"],
            "not_helpful_article_ids": [SECRET_ID],
        },
        headers=bearer(access.tokens["hana"]),
    )
    assert created.status_code == 201, created.text
    url = f"/v1/tickets/{created.json()['id']}"
    for outsider_view in (
        api.get(url, headers=bearer(access.tokens["ivan"])),
        api.get("/v1/tickets", params={"per_page": 100}, headers=bearer(access.tokens["ivan"])),
        api.patch(url, json={"priority": "high"}, headers=bearer(access.tokens["ivan"])),
    ):
        assert outsider_view.status_code == 200, outsider_view.text
        _assert_no_leak(outsider_view)
    assert api.get(url, headers=bearer(access.tokens["ivan"])).json()["viewed_article_ids"] == [
        "printer-offline-floor-printer"
    ]
    for insider in ("hana", "ada"):
        body = api.get(url, headers=bearer(access.tokens[insider])).json()
        assert body["viewed_article_ids"] == [SECRET_ID, "printer-offline-floor-printer"]
        assert body["not_helpful_article_ids"] == [SECRET_ID]


def test_the_routed_team_does_not_depend_on_who_asks(api: TestClient, access: AccessKb) -> None:
    """Routing sees only public articles, so the team chosen cannot reveal a restricted one."""
    payload = {
        "subject": f"{SECRET_WORD} quarterly bonus calibration sheet",
        "description": "The bonus calibration sheet for payroll staff will not print.",
        "requester": "someone",
    }
    teams = {
        reader: api.post("/v1/tickets", json=payload, headers=bearer(access.tokens[reader])).json()["team"]
        for reader in ("hana", "erik", "ada")
    }
    assert len(set(teams.values())) == 1, teams


# Tickets ----------------------------------------------------------------------------------------------------
def test_ticket_visibility_follows_requester_team_and_role(api: TestClient, access: AccessKb) -> None:
    tokens = access.tokens
    created = api.post(
        "/v1/tickets",
        json={
            "subject": "My laptop fan is very loud",
            "description": "It never stops.",
            "requester": "somebody-else@example.com",
            "team": "IT",
        },
        headers=bearer(tokens["erik"]),
    )
    assert created.status_code == 201, created.text
    ticket = created.json()
    assert ticket["requester"] == "erik"  # a signed-in user always asks as themselves
    assert ticket["team"] == "IT"
    url = f"/v1/tickets/{ticket['id']}"

    expected = {"erik": 200, "bea": 404, "ivan": 200, "fred": 404, "ada": 200, "hana": 404}
    seen = {name: api.get(url, headers=bearer(tokens[name])).status_code for name in expected}
    assert seen == expected
    assert stable_ticket(api.get(url, headers=bearer(tokens["ivan"])).json()) == stable_ticket(ticket)

    # "Not yours" looks exactly like "does not exist".
    hidden = api.get(url, headers=bearer(tokens["bea"]))
    missing = api.get("/v1/tickets/999999", headers=bearer(tokens["bea"]))
    assert missing.status_code == 404
    assert json.loads(hidden.text.replace(str(ticket["id"]), "N")) == json.loads(missing.text.replace("999999", "N"))


def test_a_routed_ticket_is_visible_to_the_agents_of_its_team(api: TestClient, access: AccessKb) -> None:
    created = api.post(
        "/v1/tickets",
        json={"subject": "Printer on floor 3 is offline", "description": "Nothing prints.", "requester": "x"},
        headers=bearer(access.tokens["bea"]),
    )
    assert created.status_code == 201, created.text
    assert created.json()["team"] == "IT"
    assert created.json()["requester"] == "bea"
    url = f"/v1/tickets/{created.json()['id']}"
    assert api.get(url, headers=bearer(access.tokens["ivan"])).status_code == 200
    assert api.get(url, headers=bearer(access.tokens["fred"])).status_code == 404


# Authentication ---------------------------------------------------------------------------------------------
def _assert_unauthorized(response: httpx.Response) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.headers["www-authenticate"] == "Bearer"
    body = response.json()
    assert body["status"] == 401
    assert body["title"] == "Unauthorized"


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer not-a-real-token"},
        {"Authorization": "Basic abc"},
        {"Authorization": "Bearer "},
        {"Authorization": "Bearer"},
        {"Authorization": "abc"},
    ],
    ids=["none", "wrong", "basic", "empty-bearer", "bare-bearer", "no-scheme"],
)
@pytest.mark.parametrize("path", ["/v1/search?q=printer", "/v1/articles", f"/v1/articles/{SECRET_ID}", "/v1/tickets/1"])
def test_token_auth_rejects_requests_without_a_valid_token(api: TestClient, headers: dict[str, str], path: str) -> None:
    response = api.get(path, headers=headers)
    _assert_unauthorized(response)
    _assert_no_leak(response)


def test_token_auth_rejects_posting_a_ticket_without_a_token(api: TestClient) -> None:
    response = api.post("/v1/tickets", json={"subject": "s", "description": "d", "requester": "r"})
    _assert_unauthorized(response)


def test_a_revoked_token_is_rejected(api: TestClient, access: AccessKb) -> None:
    _assert_unauthorized(api.get("/v1/articles", headers=bearer(access.tokens["rita"])))
    with pytest.raises(Unauthorized):
        access.kb.users.authenticate(access.tokens["rita"])


def test_revoking_takes_effect_on_the_next_request(api: TestClient, access: AccessKb) -> None:
    _, token = access.kb.users.add("tom", email="tom@example.com", role="employee")
    assert api.get("/v1/articles", headers=bearer(token)).status_code == 200
    assert access.kb.users.revoke("tom") == 1
    _assert_unauthorized(api.get("/v1/articles", headers=bearer(token)))


def test_an_expired_token_is_rejected(api: TestClient, access: AccessKb, embedder: SentenceTransformerEmbedder) -> None:
    short = KnowledgeBase(access.settings.model_copy(update={"token_days": 1}), embedder=embedder)
    try:
        _, token = short.users.add("sam", email="sam@example.com", role="employee")
        now = datetime.now(UTC)
        assert short.users.authenticate(token).name == "sam"
        assert _users_at(short, now + timedelta(hours=23), token_days=1).authenticate(token)
        with pytest.raises(Unauthorized):
            _users_at(short, now + timedelta(days=1, minutes=1), token_days=1).authenticate(token)
        assert api.get("/v1/articles", headers=bearer(token)).status_code == 200

        # A token issued two days ago with a one-day life is refused by the running API.
        past = _users_at(short, now - timedelta(days=2), token_days=1)
        _, old_token = past.add("old", email="old@example.com", role="admin")
        _assert_unauthorized(api.get("/v1/articles", headers=bearer(old_token)))
    finally:
        short.close()


def test_healthz_needs_no_token(api: TestClient) -> None:
    assert api.get("/healthz").status_code == 200


def test_local_auth_refuses_an_untrusted_client_without_a_token(
    access: AccessKb, embedder: SentenceTransformerEmbedder
) -> None:
    settings = access.settings.model_copy(update={"auth": "local", "trusted_clients": ["127.0.0.1"]})
    with TestClient(create_app(settings, embedder=embedder)) as client:
        _assert_unauthorized(client.get("/v1/articles"))
        _assert_unauthorized(client.get(f"/v1/articles/{SECRET_ID}"))
        assert client.get("/healthz").status_code == 200
        # A token still works, with that user's rights.
        response = client.get(f"/v1/articles/{SECRET_ID}", headers=bearer(access.tokens["erik"]))
        assert response.status_code == 404
        assert client.get("/v1/articles", headers=bearer(access.tokens["erik"])).status_code == 200


def test_local_auth_treats_a_trusted_client_as_the_local_admin(
    access: AccessKb, embedder: SentenceTransformerEmbedder
) -> None:
    settings = access.settings.model_copy(update={"auth": "local", "trusted_clients": TRUSTED})
    with TestClient(create_app(settings, embedder=embedder)) as client:
        assert client.get("/v1/articles").status_code == 200
        assert client.get(f"/v1/articles/{SECRET_ID}").status_code == 200
        # A token, when sent, wins over the trusted address: the user's rights, not the admin's.
        assert client.get(f"/v1/articles/{SECRET_ID}", headers=bearer(access.tokens["erik"])).status_code == 404
        # And a bad token is refused rather than silently falling back to the local admin.
        _assert_unauthorized(client.get("/v1/articles", headers=bearer("bogus")))


def test_default_trusted_clients_do_not_include_the_test_client(tmp_path: Path) -> None:
    assert "testclient" not in Settings(data_dir=tmp_path).trusted_clients


# XSS --------------------------------------------------------------------------------------------------------
class _ActiveContent(HTMLParser):
    """Collects what a browser would run: script/style elements, event handlers, javascript: URLs."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in {"script", "style", "iframe", "object", "embed"}:
            self.found.append(tag)
        for name, value in attrs:
            if name.startswith("on"):
                self.found.append(f"{tag}[{name}]")
            if value and "javascript:" in "".join(value.split()).lower():
                self.found.append(f"{tag}[{name}={value}]")


def test_article_html_is_sanitised(api: TestClient, access: AccessKb) -> None:
    response = api.get(f"/v1/articles/{XSS_ID}", headers=bearer(access.tokens["erik"]))
    assert response.status_code == 200, response.text
    body = response.json()
    assert "<script>alert(1)</script>" in body["markdown"]  # the source is kept as written
    html = body["html"]
    assert "<script" not in html.lower()
    assert "onerror" not in html.lower()
    assert "onclick" not in html.lower()
    active = _ActiveContent()
    active.feed(html)
    assert active.found == []
    assert "descaling guide" in html and "refill the water tank" in html


def test_a_javascript_link_survives_only_as_inert_text(api: TestClient, access: AccessKb) -> None:
    """markdown-it refuses to turn `[x](javascript:...)` into a link, so its source stays as plain text; the
    literal `javascript:` then shows in the HTML, but outside any tag or attribute, where it cannot run."""
    html = api.get(f"/v1/articles/{XSS_ID}", headers=bearer(access.tokens["erik"])).json()["html"]
    tags_only = re.sub(r">[^<]*<", "><", f">{html}<")
    assert "javascript:" not in tags_only.lower()
