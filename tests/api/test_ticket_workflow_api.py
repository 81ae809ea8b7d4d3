"""The ticket workflow over HTTP with real users and tokens: PATCH, replies, internal notes, CSAT, NPS,
Idempotency-Key (also under concurrent requests), similar cases and drafting an article."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import frontmatter
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

    def as_(self, name: str) -> dict[str, str]:
        return bearer(self.tokens[name])


@pytest.fixture(scope="module")
def desk(module_desk_settings: Callable[..., Settings], embedder: Embedder) -> Iterator[Desk]:
    settings = module_desk_settings("desk")
    kb = KnowledgeBase(settings, embedder=embedder)
    tokens = {}
    for name, role, teams in (
        ("ana", "employee", []),
        ("bob", "employee", []),
        ("ivan", "agent", ["IT"]),
        ("hanna", "agent", ["HR"]),
        ("ada", "admin", []),
    ):
        _, tokens[name] = kb.users.add(name, email=f"{name}@example.com", role=role, teams=teams)
    kb.close()
    with TestClient(create_app(settings, embedder=embedder)) as api:
        yield Desk(api, settings, tokens)


def _ticket(desk: Desk, subject: str = "Printer on floor 2 is offline", **extra: Any) -> dict[str, Any]:
    body = {"subject": subject, "description": "It says offline since this morning.", "requester": "x", "team": "IT"}
    response = desk.api.post("/v1/tickets", json={**body, **extra}, headers=desk.as_("ana"))
    assert response.status_code == 201, response.text
    return dict(response.json())


def test_an_agent_works_a_ticket_from_new_to_resolved(desk: Desk) -> None:
    ticket = _ticket(desk)
    url = f"/v1/tickets/{ticket['id']}"
    assert desk.api.patch(url, json={"assignee": "ivan"}, headers=desk.as_("ivan")).json()["status"] == "open"
    reply = desk.api.post(f"{url}/replies", json={"body": "Restarted the print server."}, headers=desk.as_("ivan"))
    assert reply.status_code == 201 and reply.json()["kind"] == "reply"
    desk.api.post(f"{url}/notes", json={"body": "Spooler crashed again: ticket to vendor."}, headers=desk.as_("ivan"))
    pending = desk.api.patch(url, json={"status": "pending"}, headers=desk.as_("ivan")).json()
    assert pending["sla"]["paused"] is True
    desk.api.post(f"{url}/replies", json={"body": "It prints now, thanks."}, headers=desk.as_("ana"))
    resolved = desk.api.patch(
        url, json={"status": "resolved", "resolution": "Restarted the spooler."}, headers=desk.as_("ivan")
    )
    assert resolved.status_code == 200, resolved.text
    body = resolved.json()
    assert body["status"] == "resolved" and body["resolution"] == "Restarted the spooler."
    kinds = [(e["kind"], e["field"], e["new"]) for e in body["events"]]
    assert ("change", "status", "pending") in kinds and ("change", "status", "resolved") in kinds
    assert ("change", "status", "open") in kinds  # the requester's reply resumed it

    requester_view = desk.api.get(url, headers=desk.as_("ana")).json()
    assert "vendor" not in str(requester_view)
    assert all(not e["internal"] for e in requester_view["events"])

    rated = desk.api.post(f"{url}/satisfaction", json={"score": 5, "comment": "Fast"}, headers=desk.as_("ana"))
    assert rated.status_code == 200 and rated.json()["csat_score"] == 5
    again = desk.api.post(f"{url}/satisfaction", json={"score": 1}, headers=desk.as_("ana"))
    assert again.status_code == 409
    assert again.headers["content-type"].startswith("application/problem+json")


@pytest.mark.parametrize(
    ("who", "path", "method", "body", "status"),
    [
        ("ana", "", "patch", {"priority": "urgent"}, 403),
        ("ana", "/notes", "post", {"body": "note"}, 403),
        ("hanna", "", "patch", {"priority": "urgent"}, 404),  # HR cannot even see an IT ticket
        ("bob", "/replies", "post", {"body": "hi"}, 404),
        ("ivan", "", "patch", {"status": "resolved"}, 422),  # no resolution
        ("ivan", "", "patch", {"status": "closed"}, 409),  # new cannot become closed
        ("ivan", "", "patch", {"assignee": "hanna"}, 422),
        ("ivan", "", "patch", {"team": "Legal"}, 422),
        ("ivan", "", "patch", {"status": "sleeping"}, 422),
        ("ana", "/satisfaction", "post", {"score": 4}, 409),  # not resolved yet
    ],
)
def test_workflow_errors_are_problem_json_naming_the_field(
    desk: Desk, who: str, path: str, method: str, body: dict[str, Any], status: int
) -> None:
    ticket = _ticket(desk)
    response = desk.api.request(method, f"/v1/tickets/{ticket['id']}{path}", json=body, headers=desk.as_(who))
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    if status in (409, 422):
        assert response.json()["field"]


def test_idempotency_key_returns_the_same_ticket(desk: Desk) -> None:
    body = {"subject": "Monitor flickers", "description": "Every few seconds.", "requester": "x", "team": "IT"}
    headers = {**desk.as_("bob"), "Idempotency-Key": "bob-monitor-1"}
    first = desk.api.post("/v1/tickets", json=body, headers=headers)
    second = desk.api.post("/v1/tickets", json=body, headers=headers)
    assert first.status_code == second.status_code == 201
    assert first.json()["id"] == second.json()["id"]
    assert (first.headers["Idempotent-Replayed"], second.headers["Idempotent-Replayed"]) == ("false", "true")
    changed = desk.api.post("/v1/tickets", json={**body, "subject": "Other"}, headers=headers)
    assert changed.status_code == 422 and changed.json()["field"] == "Idempotency-Key"


def test_concurrent_requests_with_one_key_create_one_ticket(desk: Desk) -> None:
    body = {"subject": "Docking station dead", "description": "No power light.", "requester": "x", "team": "IT"}
    headers = {**desk.as_("bob"), "Idempotency-Key": "bob-dock-7"}
    with ThreadPoolExecutor(max_workers=10) as pool:
        responses = list(pool.map(lambda _: desk.api.post("/v1/tickets", json=body, headers=headers), range(10)))
    assert {r.status_code for r in responses} == {201}
    assert len({r.json()["id"] for r in responses}) == 1
    assert [r.headers["Idempotent-Replayed"] for r in responses].count("false") == 1
    mine = desk.api.get("/v1/tickets", params={"scope": "mine"}, headers=desk.as_("bob")).json()
    assert [t["subject"] for t in mine["items"]].count("Docking station dead") == 1


def test_listing_filters_by_state_and_scope(desk: Desk) -> None:
    ticket = _ticket(desk, subject="Keyboard missing keys")
    desk.api.patch(f"/v1/tickets/{ticket['id']}", json={"status": "pending"}, headers=desk.as_("ivan"))
    pending = desk.api.get("/v1/tickets", params={"status": "pending"}, headers=desk.as_("ivan")).json()
    assert ticket["id"] in [t["id"] for t in pending["items"]]
    assert all(t["status"] == "pending" for t in pending["items"])
    assert desk.api.get("/v1/tickets", headers=desk.as_("hanna")).json()["total"] == 0
    bad = desk.api.get("/v1/tickets", params={"sla": "late"}, headers=desk.as_("ivan"))
    assert bad.status_code == 422 and bad.json()["field"] == "sla"


def test_similar_cases_find_the_resolved_ticket_and_the_article(desk: Desk) -> None:
    old = _ticket(desk, subject="VPN disconnects every few minutes at the hotel", description="Hotel wifi.")
    desk.api.patch(
        f"/v1/tickets/{old['id']}",
        json={"status": "resolved", "resolution": "Switched the VPN client to TCP 443."},
        headers=desk.as_("ivan"),
    )
    new = _ticket(desk, subject="My VPN keeps dropping on hotel wifi", description="Every few minutes.")
    similar = desk.api.get(f"/v1/tickets/{new['id']}/similar", headers=desk.as_("ivan"))
    assert similar.status_code == 200, similar.text
    body = similar.json()
    assert body["tickets"][0]["id"] == old["id"]
    assert body["tickets"][0]["resolution"].startswith("Switched the VPN client")
    assert body["articles"][0]["article_id"] == "vpn-drops-on-public-wifi"
    # HR's agent cannot see either ticket.
    assert desk.api.get(f"/v1/tickets/{new['id']}/similar", headers=desk.as_("hanna")).status_code == 404


def test_a_resolved_ticket_becomes_a_draft_article(desk: Desk) -> None:
    ticket = _ticket(desk, subject="Scanner emails never arrive")
    url = f"/v1/tickets/{ticket['id']}"
    early = desk.api.post(f"{url}/draft-article", headers=desk.as_("ivan"))
    assert early.status_code == 409
    desk.api.post(f"{url}/notes", json={"body": "The scanner's SMTP relay password expired."}, headers=desk.as_("ivan"))
    desk.api.patch(
        url,
        json={"status": "resolved", "resolution": "Renewed the relay password on the scanner."},
        headers=desk.as_("ivan"),
    )
    assert desk.api.post(f"{url}/draft-article", headers=desk.as_("ana")).status_code == 403

    draft = desk.api.post(f"{url}/draft-article", headers=desk.as_("ivan"))
    assert draft.status_code == 201, draft.text
    saved = draft.json()
    # A draft in the store, linked to its ticket, not a file in the articles folder.
    assert (saved["status"], saved["team"], saved["ticket_id"], saved["version"]) == ("draft", "IT", ticket["id"], 1)
    assert not (desk.settings.articles_dir / "drafts").exists()
    post = frontmatter.loads(saved["markdown"])
    assert (post["team"], post["title"]) == ("IT", "Scanner emails never arrive")
    assert "## Symptoms" in post.content and "since this morning" in post.content
    assert "relay password expired" in post.content.split("## Cause")[1]
    assert "Renewed the relay password" in post.content.split("## Resolution")[1]
    second = desk.api.post(f"{url}/draft-article", headers=desk.as_("ivan")).json()
    assert second["id"] != saved["id"]  # never overwrites

    # Employees do not see a draft; its team's agent sends it to review.
    assert desk.api.get(saved["url"], headers=desk.as_("ana")).status_code == 404
    review = desk.api.post(
        f"{saved['url']}/transitions", json={"to": "review"}, headers={**desk.as_("ivan"), "If-Match": saved["etag"]}
    )
    assert review.status_code == 200, review.text
    assert review.json()["status"] == "review"
    queue = desk.api.get("/v1/articles", params={"status": "review"}, headers=desk.as_("ivan")).json()
    assert saved["id"] in [item["id"] for item in queue["items"]]


def test_nps_is_answered_once_a_quarter(desk: Desk) -> None:
    first = desk.api.post("/v1/surveys/nps", json={"score": 9, "comment": "Helpful desks"}, headers=desk.as_("bob"))
    assert first.status_code == 201, first.text
    assert first.json()["quarter"].startswith("20")
    again = desk.api.post("/v1/surveys/nps", json={"score": 3}, headers=desk.as_("bob"))
    assert again.status_code == 409
    out_of_range = desk.api.post("/v1/surveys/nps", json={"score": 11}, headers=desk.as_("ana"))
    assert out_of_range.status_code == 422


def test_article_feedback_is_recorded_for_readers_only(desk: Desk) -> None:
    ok = desk.api.post(
        "/v1/articles/printer-offline-floor-printer/feedback", json={"helpful": False}, headers=desk.as_("ana")
    )
    assert ok.status_code == 204
    missing = desk.api.post("/v1/articles/nope/feedback", json={"helpful": True}, headers=desk.as_("ana"))
    assert missing.status_code == 404


def _votes(desk: Desk, article_id: str) -> dict[str, int]:
    top = desk.api.get("/v1/metrics/service", headers=desk.as_("ada")).json()["top_articles"]
    for stat in top["by_views"]:
        if stat["article_id"] == article_id:
            return {"helpful": stat["helpful"], "not_helpful": stat["not_helpful"]}
    return {"helpful": 0, "not_helpful": 0}


def test_one_vote_per_user_and_article_the_latest_counts(desk: Desk) -> None:
    url = "/v1/articles/badge-not-opening-doors/feedback"
    desk.api.get("/v1/articles/badge-not-opening-doors", headers=desk.as_("bob"))  # a view, so it is listed
    for _ in range(10):
        assert desk.api.post(url, json={"helpful": False}, headers=desk.as_("bob")).status_code == 204
    assert _votes(desk, "badge-not-opening-doors") == {"helpful": 0, "not_helpful": 1}
    assert desk.api.post(url, json={"helpful": True}, headers=desk.as_("bob")).status_code == 204
    assert _votes(desk, "badge-not-opening-doors") == {"helpful": 1, "not_helpful": 0}
    assert desk.api.post(url, json={"helpful": True}, headers=desk.as_("ana")).status_code == 204
    assert _votes(desk, "badge-not-opening-doors") == {"helpful": 2, "not_helpful": 0}


def test_a_reply_replay_is_refused_once_the_agent_lost_the_ticket(desk: Desk) -> None:
    ticket = _ticket(desk, subject="Docking station flickers")
    url = f"/v1/tickets/{ticket['id']}"
    headers = {**desk.as_("ivan"), "Idempotency-Key": "ivan-dock-reply-1"}
    first = desk.api.post(f"{url}/replies", json={"body": "Try another cable."}, headers=headers)
    assert first.status_code == 201, first.text
    assert desk.api.post(f"{url}/replies", json={"body": "Try another cable."}, headers=headers).status_code == 201
    assert desk.api.patch(url, json={"team": "HR"}, headers=desk.as_("ivan")).status_code == 200
    replay = desk.api.post(f"{url}/replies", json={"body": "Try another cable."}, headers=headers)
    assert replay.status_code == 404, replay.text
    assert "Try another cable" not in replay.text


def test_maintenance_embeds_every_resolved_ticket_once(desk: Desk) -> None:
    ticket = _ticket(desk, subject="Teams camera is black")
    desk.api.patch(
        f"/v1/tickets/{ticket['id']}",
        json={"status": "resolved", "resolution": "Camera privacy switch."},
        headers=desk.as_("ivan"),
    )
    kb = desk.api.app.state.kb  # type: ignore[attr-defined]
    first = kb.tickets.maintain()
    assert first["embedded"] >= 1
    assert kb.tickets.maintain()["embedded"] == 0


def test_an_agent_who_transfers_a_ticket_away_gets_the_result_not_a_404(desk: Desk) -> None:
    ticket = _ticket(desk, subject="Payslip shows the wrong bank account")
    moved = desk.api.patch(f"/v1/tickets/{ticket['id']}", json={"team": "HR"}, headers=desk.as_("ivan"))
    assert moved.status_code == 200, moved.text
    assert moved.json()["team"] == "HR" and moved.json()["events"] == []  # no longer Ivan's to read
    assert desk.api.get(f"/v1/tickets/{ticket['id']}", headers=desk.as_("ivan")).status_code == 404
    assert desk.api.get(f"/v1/tickets/{ticket['id']}", headers=desk.as_("hanna")).json()["team"] == "HR"
