"""The audit log records sign-ins, permission changes, article changes and agents' ticket views."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from indexer.embedders import Embedder
from kb.service import KnowledgeBase
from kb.settings import Settings

pytestmark = pytest.mark.both_stores


def _actions(kb: KnowledgeBase) -> list[tuple[str, str, str]]:
    return [(e["actor"], e["action"], e["target"]) for e in kb.store.audit.recent(200)]


def test_audit_trail_of_users_articles_sign_ins_and_ticket_views(small_settings: Settings, embedder: Embedder) -> None:
    settings = small_settings.model_copy(update={"auth": "token"})
    kb = KnowledgeBase(settings, embedder=embedder)
    kb.indexing.build()
    _, requester_token = kb.users.add("rita", email="rita@example.com", role="employee")
    _, agent_token = kb.users.add("ivan", email="ivan@example.com", role="agent", teams=["IT"])
    kb.users.add("gone", email="gone@example.com", role="employee")
    kb.users.revoke("gone")

    with TestClient(create_app(settings, embedder=embedder)) as client:
        created = client.post(
            "/v1/tickets",
            json={"subject": "Printer offline", "description": "Floor 3", "requester": "x", "team": "IT"},
            headers={"Authorization": f"Bearer {requester_token}"},
        ).json()
        assert client.get(f"/v1/tickets/{created['id']}", headers={"Authorization": f"Bearer {agent_token}"}).is_success
        assert client.get("/v1/articles", headers={"Authorization": "Bearer wrong"}).status_code == 401

    actions = _actions(kb)
    kb.close()
    assert ("cli", "user.create", "rita") in actions
    assert ("cli", "user.revoke", "gone") in actions
    assert ("indexer", "article.index", "vpn-drops-on-public-wifi") in actions
    assert ("rita", "auth.sign_in", "") in actions
    assert ("ivan", "ticket.view", str(created["id"])) in actions
    assert ("unknown", "auth.failed", "") in actions
    assert all(e["origin"] for e in KnowledgeBase(settings, embedder=embedder).store.audit.recent(200))
