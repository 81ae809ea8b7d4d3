"""Publishing over HTTP with real users and tokens: draft → review → published by another agent → found by search;
If-Match; versions, diff and restore; archiving; validation naming the field; near-duplicates."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from indexer.embedders import Embedder
from kb.service import KnowledgeBase
from kb.settings import Settings
from tests.conftest import bearer

pytestmark = pytest.mark.both_stores


@dataclass(frozen=True)
class Desk:
    api: TestClient
    settings: Settings
    tokens: dict[str, str]

    def as_(self, name: str, etag: str | None = None) -> dict[str, str]:
        headers = bearer(self.tokens[name])
        return headers | ({"If-Match": etag} if etag else {})


@pytest.fixture(scope="module")
def desk(module_desk_settings: Callable[..., Settings], embedder: Embedder) -> Iterator[Desk]:
    # Every question is a knowledge gap here: the fake embedder's cosines say nothing about answering.
    settings = module_desk_settings("publishing", max_article_bytes=20_000, answer_threshold=0.999)
    kb = KnowledgeBase(settings, embedder=embedder)
    tokens = {}
    for name, role, teams in (
        ("ana", "employee", []),
        ("ivan", "agent", ["IT"]),
        ("ines", "agent", ["IT"]),
        ("hanna", "agent", ["HR"]),
        ("ada", "admin", []),
    ):
        _, tokens[name] = kb.users.add(name, email=f"{name}@example.com", role=role, teams=teams)
    kb.close()
    with TestClient(create_app(settings, embedder=embedder)) as api:
        yield Desk(api, settings, tokens)


def article(slug: str, title: str, *, team: str = "IT", resolution: str = "Restart the thing.", extra: str = "") -> str:
    return (
        f"---\nid: {slug}\ntitle: {title}\nteam: {team}\ntags: [test]\n{extra}---\n\n"
        f"## Symptoms\n\n{title}: it happens every morning.\n\n"
        f"## Cause\n\nThe zorblax cache of {slug} is stale.\n\n"
        f"## Resolution\n\n{resolution}\n"
    )


def _create(desk: Desk, markdown: str, who: str = "ivan") -> dict[str, Any]:
    response = desk.api.post("/v1/articles", json={"markdown": markdown}, headers=desk.as_(who))
    assert response.status_code == 201, response.text
    assert response.headers["ETag"] == response.json()["etag"]
    return dict(response.json())


def _move(desk: Desk, saved: dict[str, Any], to: str, who: str) -> Any:
    return desk.api.post(
        f"/v1/articles/{saved['id']}/transitions", json={"to": to}, headers=desk.as_(who, saved["etag"])
    )


def _publish(desk: Desk, slug: str, title: str, **kw: Any) -> dict[str, Any]:
    saved = _create(desk, article(slug, title, **kw))
    review = _move(desk, saved, "review", "ivan")
    assert review.status_code == 200, review.text
    published = _move(desk, review.json(), "published", "ines")
    assert published.status_code == 200, published.text
    return dict(published.json())


def _search_ids(desk: Desk, query: str, who: str = "ana") -> list[str]:
    response = desk.api.get("/v1/search", params={"q": query, "limit": 10}, headers=desk.as_(who))
    assert response.status_code == 200, response.text
    return [hit["article_id"] for hit in response.json()["results"]]


def _listed(desk: Desk, who: str = "ana", **params: Any) -> list[str]:
    response = desk.api.get("/v1/articles", params={"per_page": 100, **params}, headers=desk.as_(who))
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


def test_draft_review_publish_by_another_agent_then_found_by_search(desk: Desk) -> None:
    saved = _create(desk, article("zorblax-printer", "Zorblax printer prints blank pages"))
    assert (saved["status"], saved["version"], saved["published_version"], saved["author"]) == (
        "draft",
        1,
        None,
        "ivan",
    )
    # Not visible to employees while a draft.
    assert desk.api.get(saved["url"], headers=desk.as_("ana")).status_code == 404
    assert "zorblax-printer" not in _listed(desk)
    assert "zorblax-printer" not in _search_ids(desk, "zorblax printer blank pages")

    review = _move(desk, saved, "review", "ivan")
    assert review.status_code == 200, review.text
    assert review.json()["status"] == "review"
    assert "zorblax-printer" in _listed(desk, "ines", status="review")
    assert "zorblax-printer" not in _listed(desk, "hanna", status="review")  # another team's queue
    assert desk.api.get("/v1/articles", params={"status": "review"}, headers=desk.as_("ana")).status_code == 403

    refused = _move(desk, review.json(), "published", "ivan")  # the author reviewing their own
    assert refused.status_code == 403
    assert refused.json()["field"] == "to"

    published = _move(desk, review.json(), "published", "ines")
    assert published.status_code == 200, published.text
    assert (published.json()["status"], published.json()["published_version"]) == ("published", 1)
    # Searchable as soon as the call returned: no rebuild, no restart.
    assert "zorblax-printer" in _search_ids(desk, "zorblax printer prints blank pages")
    assert "zorblax-printer" in _listed(desk)
    shown = desk.api.get("/v1/articles/zorblax-printer", headers=desk.as_("ana"))
    assert shown.status_code == 200 and shown.json()["status"] == "published"


def test_an_admin_may_publish_their_own_and_the_audit_log_says_so(desk: Desk) -> None:
    saved = _create(desk, article("admin-own", "Quibbleflux badge printer"), who="ada")
    review = _move(desk, saved, "review", "ada")
    published = _move(desk, review.json(), "published", "ada")
    assert published.status_code == 200, published.text
    kb = KnowledgeBase(desk.settings)  # the audit log is read with `kb audit`: the store
    try:
        actions = [e["action"] for e in kb.store.audit.recent(500) if e["target"] == "admin-own"]
    finally:
        kb.close()
    assert "article.published.self_review_override" in actions


def test_a_stale_if_match_is_refused_and_nothing_is_overwritten(desk: Desk) -> None:
    saved = _create(desk, article("stale-edit", "Stale edit gizmo"))
    first = desk.api.put(
        saved["url"],
        json={"markdown": article("stale-edit", "Stale edit gizmo", resolution="First fix."), "comment": "one"},
        headers=desk.as_("ivan", saved["etag"]),
    )
    assert first.status_code == 200, first.text
    assert first.json()["version"] == 2
    # A second writer still holding version 1's ETag.
    second = desk.api.put(
        saved["url"],
        json={"markdown": article("stale-edit", "Stale edit gizmo", resolution="Second fix.")},
        headers=desk.as_("ines", saved["etag"]),
    )
    assert second.status_code == 412
    assert second.json()["field"] == "If-Match"
    missing = desk.api.put(
        saved["url"], json={"markdown": article("stale-edit", "Stale edit gizmo")}, headers=desk.as_("ines")
    )
    assert missing.status_code == 428
    work = desk.api.get(f"{saved['url']}/work", headers=desk.as_("ivan")).json()
    assert work["version"] == 2 and "First fix." in work["markdown"]


def test_versions_diff_and_restore(desk: Desk) -> None:
    saved = _create(desk, article("versioned", "Versioned widget", resolution="Turn it off and on."))
    edited = desk.api.put(
        saved["url"],
        json={"markdown": article("versioned", "Versioned widget", resolution="Replace the fuse."), "comment": "fuse"},
        headers=desk.as_("ines", saved["etag"]),
    ).json()
    versions = desk.api.get(f"{saved['url']}/versions", headers=desk.as_("ivan")).json()
    assert [(v["number"], v["author"], v["comment"]) for v in versions] == [(1, "ivan", "created"), (2, "ines", "fuse")]
    one = desk.api.get(f"{saved['url']}/versions/1", headers=desk.as_("ivan")).json()
    assert "Turn it off and on." in one["markdown"]
    diff = desk.api.get(f"{saved['url']}/diff", params={"from": 1, "to": 2}, headers=desk.as_("ivan")).json()
    assert "-Turn it off and on." in diff["diff"] and "+Replace the fuse." in diff["diff"]
    assert desk.api.get(f"{saved['url']}/versions", headers=desk.as_("ana")).status_code == 404

    restored = desk.api.post(f"{saved['url']}/versions/1/restore", headers=desk.as_("ivan", edited["etag"]))
    assert restored.status_code == 200, restored.text
    assert restored.json()["version"] == 3 and "Turn it off and on." in restored.json()["markdown"]
    assert desk.api.get(f"{saved['url']}/versions/3", headers=desk.as_("ivan")).json()["comment"] == (
        "restored version 1"
    )


def test_editing_a_published_article_keeps_the_published_version_until_the_new_one_is_published(desk: Desk) -> None:
    published = _publish(desk, "kept-live", "Frobnicator jams on tray two", resolution="Open tray two.")
    edit = desk.api.put(
        published["url"],
        json={"markdown": article("kept-live", "Frobnicator jams on tray two", resolution="Call the vendor.")},
        headers=desk.as_("ivan", published["etag"]),
    )
    assert edit.status_code == 200, edit.text
    assert (edit.json()["status"], edit.json()["published_version"], edit.json()["version"]) == ("draft", 1, 2)
    shown = desk.api.get(published["url"], headers=desk.as_("ana")).json()
    assert "Open tray two." in shown["markdown"] and "Call the vendor." not in shown["markdown"]
    assert "kept-live" in _search_ids(desk, "frobnicator jams tray two")


def test_an_archived_article_leaves_every_employee_facing_endpoint(desk: Desk) -> None:
    published = _publish(desk, "to-archive", "Snorkelwave scanner stripes")
    assert "to-archive" in _search_ids(desk, "snorkelwave scanner stripes")
    archived = _move(desk, published, "archived", "ines")
    assert archived.status_code == 200, archived.text

    assert "to-archive" not in _search_ids(desk, "snorkelwave scanner stripes")
    assert "to-archive" not in _listed(desk)
    assert desk.api.get("/v1/articles/to-archive", headers=desk.as_("ana")).status_code == 404
    assert desk.api.get("/v1/articles/to-archive/related", headers=desk.as_("ana")).status_code == 404
    for other in _listed(desk)[:3]:
        related = desk.api.get(f"/v1/articles/{other}/related", params={"limit": 20}, headers=desk.as_("ana"))
        assert "to-archive" not in [r["article_id"] for r in related.json()]
    ticket = desk.api.post(
        "/v1/tickets",
        json={
            "subject": "Snorkelwave scanner stripes",
            "description": "Stripes on every scan.",
            "requester": "x",
            "team": "IT",
        },
        headers=desk.as_("ana"),
    ).json()
    similar = desk.api.get(f"/v1/tickets/{ticket['id']}/similar", headers=desk.as_("ivan")).json()
    assert "to-archive" not in [a["article_id"] for a in similar["articles"]]
    # Still readable by id for the team's agents, and revived as a draft (not shown until published anew).
    kept = desk.api.get("/v1/articles/to-archive", headers=desk.as_("ivan"))
    assert kept.status_code == 200 and kept.json()["status"] == "archived"
    revived = _move(desk, archived.json(), "draft", "ivan")
    assert revived.status_code == 200 and revived.json()["published_version"] is None
    assert desk.api.get("/v1/articles/to-archive", headers=desk.as_("ana")).status_code == 404


@pytest.mark.parametrize(
    ("markdown", "field"),
    [
        ("---\nteam: IT\n---\n\n## Resolution\n\nDo it.\n", "title"),
        ("---\ntitle: No fix\nteam: IT\n---\n\n## Symptoms\n\nBroken.\n", "section:Resolution"),
        ("---\ntitle: Whose\nteam: Catering\n---\n\n## Resolution\n\nDo it.\n", "team"),
        ("---\ntitle: Typo\nteam: IT\naudiance: [hr]\n---\n\n## Resolution\n\nDo it.\n", "audiance"),
        ("---\ntitle: [unclosed\nteam: IT\n---\n\n## Resolution\n\nDo it.\n", "markdown"),
    ],
)
def test_validation_names_the_field_or_section(desk: Desk, markdown: str, field: str) -> None:
    response = desk.api.post("/v1/articles", json={"markdown": markdown}, headers=desk.as_("ivan"))
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["field"] == field


def test_an_oversized_article_is_refused_naming_the_field(desk: Desk) -> None:
    big = article("big-one", "Big one", resolution="word " * 5_000)  # 25 kB: under the request limit
    response = desk.api.post("/v1/articles", json={"markdown": big}, headers=desk.as_("ivan"))
    assert response.status_code == 422
    assert response.json()["field"] == "markdown"
    assert "KB_MAX_ARTICLE_BYTES" in response.json()["detail"]


def test_only_the_owning_team_writes(desk: Desk) -> None:
    assert (
        desk.api.post(
            "/v1/articles", json={"markdown": article("hr-by-it", "Leave", team="HR")}, headers=desk.as_("ivan")
        ).status_code
        == 403
    )
    assert (
        desk.api.post(
            "/v1/articles", json={"markdown": article("by-employee", "Mine")}, headers=desk.as_("ana")
        ).status_code
        == 403
    )
    saved = _create(desk, article("it-only", "Gadget"))
    response = desk.api.put(
        saved["url"], json={"markdown": article("it-only", "Gadget 2")}, headers=desk.as_("hanna", saved["etag"])
    )
    assert response.status_code == 404  # a draft of another team is not even there for her


def test_create_lists_the_published_articles_most_like_it(desk: Desk) -> None:
    vpn = (
        "---\ntitle: VPN disconnects on hotel Wi-Fi\nteam: IT\n---\n\n## Symptoms\n\nGlobalProtect VPN drops every few "
        "minutes on hotel, airport or public Wi-Fi.\n\n## Resolution\n\nSwitch to the TCP gateway.\n"
    )
    saved = _create(desk, vpn)
    assert saved["duplicates"], "the near-duplicate check found nothing"
    assert saved["duplicates"][0]["article_id"] == "vpn-drops-on-public-wifi"
    assert 0 < saved["duplicates"][0]["similarity"] <= 1


def test_searches_during_publishes_never_fail_nor_come_back_empty(desk: Desk) -> None:
    def search(_: int) -> int:
        response = desk.api.get("/v1/search", params={"q": "vpn drops on hotel wifi"}, headers=desk.as_("ana"))
        assert response.status_code == 200, response.text
        return len(response.json()["results"])

    with ThreadPoolExecutor(max_workers=3) as pool:
        searching = [pool.submit(search, n) for n in range(60)]
        for number in range(4):
            _publish(desk, f"stream-{number}", f"Stream gizmo {number} rattles")
        counts = [f.result() for f in searching]
    assert min(counts) > 0
    assert all(f"stream-{n}" in _search_ids(desk, f"stream gizmo {n} rattles") for n in range(4))


def test_readers_votes_order_near_ties_and_one_user_counts_once(desk: Desk) -> None:
    body = "Gloopwidget fan squeals at startup"
    _publish(desk, "tie-a", body)
    _publish(desk, "tie-b", body)
    # Same text and title: a tie, broken by id until readers vote.
    assert [i for i in _search_ids(desk, "gloopwidget fan squeals") if i.startswith("tie-")] == ["tie-a", "tie-b"]
    for voter in ("ana", "ivan", "ines"):
        response = desk.api.post("/v1/articles/tie-b/feedback", json={"helpful": True}, headers=desk.as_(voter))
        assert response.status_code == 204
    for _ in range(5):  # one user voting again replaces their vote: it cannot stuff the box
        desk.api.post("/v1/articles/tie-a/feedback", json={"helpful": True}, headers=desk.as_("hanna"))
    assert [i for i in _search_ids(desk, "gloopwidget fan squeals") if i.startswith("tie-")] == ["tie-b", "tie-a"]
    stats = desk.api.get("/v1/articles/tie-a/stats", headers=desk.as_("ivan")).json()
    assert (stats["helpful"], stats["not_helpful"]) == (1, 0)


def test_not_helpful_votes_with_comments_put_an_article_on_the_teams_attention_list(desk: Desk) -> None:
    _publish(desk, "unhelpful", "Wobblegate hinge creaks")
    for voter in ("ana", "hanna", "ada"):
        response = desk.api.post(
            "/v1/articles/unhelpful/feedback",
            json={"helpful": False, "comment": f"{voter}: the steps do not match the new hinge"},
            headers=desk.as_(voter),
        )
        assert response.status_code == 204
    attention = desk.api.get("/v1/knowledge/attention", params={"team": "IT"}, headers=desk.as_("ivan"))
    assert attention.status_code == 200, attention.text
    flagged = {a["article_id"]: a for a in attention.json()["articles"]}
    assert flagged["unhelpful"]["reasons"] == ["not_helpful"]
    assert flagged["unhelpful"]["not_helpful"] == 3
    assert desk.api.get("/v1/knowledge/attention", params={"team": "IT"}, headers=desk.as_("ana")).status_code == 403
    assert desk.api.get("/v1/knowledge/attention", params={"team": "IT"}, headers=desk.as_("hanna")).status_code == 403

    stats = desk.api.get("/v1/articles/unhelpful/stats", headers=desk.as_("ines")).json()
    assert stats["not_helpful"] == 3 and stats["score"] < 0.4
    assert {c["comment"] for c in stats["comments"]} >= {"ana: the steps do not match the new hinge"}
    assert desk.api.get("/v1/articles/unhelpful/stats", headers=desk.as_("ana")).status_code == 404


def test_an_article_not_updated_for_a_long_time_needs_attention(desk: Desk) -> None:
    _publish(desk, "old-news", "Fax machine toner", extra="updated: 2019-03-01\n")
    flagged = desk.api.get("/v1/knowledge/attention", params={"team": "IT"}, headers=desk.as_("ines")).json()
    assert "stale" in {a["article_id"]: a for a in flagged["articles"]}["old-news"]["reasons"]


def test_a_knowledge_gap_becomes_a_prefilled_draft(desk: Desk) -> None:
    for voter in ("ana", "hanna", "ada"):
        desk.api.get("/v1/search", params={"q": "plumbus calibration certificate expired"}, headers=desk.as_(voter))
    gaps = {}
    for team in ("IT", "HR", "Facilities", "Finance"):
        listed = desk.api.get("/v1/knowledge/attention", params={"team": team}, headers=desk.as_("ada")).json()
        gaps |= {g["example"]: team for g in listed["gaps"]}
    example = "plumbus calibration certificate expired"
    assert example in gaps, gaps
    draft = desk.api.post(
        "/v1/knowledge/gaps/draft", json={"team": gaps[example], "example": example}, headers=desk.as_("ada")
    )
    assert draft.status_code == 201, draft.text
    assert draft.json()["status"] == "draft"
    text = draft.json()["markdown"]
    assert example in text.lower() and "plumbus" in text and "## Resolution" in text
    # What colleagues typed goes to the version history, which only the team's writers read.
    versions = desk.api.get(f"{draft.json()['url']}/versions", headers=desk.as_("ada")).json()
    assert example in versions[0]["comment"]


@pytest.mark.parametrize(
    ("markdown", "field"),
    [
        ("---\ntitle: Bad date\nteam: IT\nupdated: 2026-13-45\n---\n\n## Resolution\n\nDo it.\n", "markdown"),
        ("---\n- a list\n- not a mapping\n---\n\n## Resolution\n\nDo it.\n", "title"),
        ("---\ntitle: Numeric key\nteam: IT\n1: one\n---\n\n## Resolution\n\nDo it.\n", "markdown"),
        (f"---\nid: {'a' * 201}\ntitle: Long id\nteam: IT\n---\n\n## Resolution\n\nDo it.\n", "id"),
    ],
)
def test_odd_front_matter_is_a_4xx_naming_the_field(desk: Desk, markdown: str, field: str) -> None:
    response = desk.api.post("/v1/articles", json={"markdown": markdown}, headers=desk.as_("ivan"))
    assert response.status_code == 422, response.text
    assert response.json()["field"] == field


def test_a_status_key_in_the_text_does_not_set_the_state(desk: Desk) -> None:
    sneaky = article("sneaky", "Sneaky gadget", extra="status: published\n")
    saved = _create(desk, sneaky)
    assert saved["status"] == "draft" and saved["published_version"] is None
    assert desk.api.get(saved["url"], headers=desk.as_("ana")).status_code == 404


def test_readers_see_the_published_version_not_the_pending_draft(desk: Desk) -> None:
    published = _publish(desk, "pending-edit", "Grommet tray sticks")
    desk.api.put(
        published["url"],
        json={"markdown": article("pending-edit", "Grommet tray sticks", resolution="New steps.")},
        headers=desk.as_("ivan", published["etag"]),
    )
    shown = desk.api.get(published["url"], headers=desk.as_("ana"))
    assert (shown.json()["status"], shown.json()["version"]) == ("published", 1)
    assert shown.headers["ETag"].endswith('.1.published"')
    assert desk.api.get(published["url"], headers=desk.as_("hanna")).json()["status"] == "published"
    assert desk.api.get(published["url"], headers=desk.as_("ines")).json()["status"] == "draft"


def test_of_two_writers_over_one_version_one_wins(desk: Desk) -> None:
    saved = _create(desk, article("race", "Race gadget"))

    def edit(who: str) -> int:
        body = {"markdown": article("race", "Race gadget", resolution=f"{who}'s fix.")}
        return desk.api.put(saved["url"], json=body, headers=desk.as_(who, saved["etag"])).status_code

    with ThreadPoolExecutor(max_workers=2) as pool:
        statuses = sorted(pool.map(edit, ["ivan", "ines"]))
    assert statuses == [200, 412]
    assert desk.api.get(f"{saved['url']}/work", headers=desk.as_("ivan")).json()["version"] == 2


def test_a_revived_article_reads_as_its_newest_text(desk: Desk) -> None:
    published = _publish(desk, "revived", "Old title gadget")
    edited = desk.api.put(
        published["url"],
        json={"markdown": article("revived", "New title gadget")},
        headers=desk.as_("ivan", published["etag"]),
    ).json()
    archived = _move(desk, edited, "archived", "ines").json()
    revived = _move(desk, archived, "draft", "ines").json()
    assert (revived["title"], revived["published_version"]) == ("New title gadget", None)
