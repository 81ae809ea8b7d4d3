"""Users and audit entries come out of the store typed: a frozen StoredUser (no token, not even its hash) and
AuditEntry rows with every column."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from kb.store import Store
from kb.store.users import StoredUser

pytestmark = pytest.mark.both_stores

NOW = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    opened = Store(database_url)
    yield opened
    opened.close()


def test_a_user_row_is_a_frozen_stored_user_without_its_token(store: Store) -> None:
    added = store.users.add(
        name="hana",
        email="hana@example.com",
        role="agent",
        groups=["hr"],
        teams=["HR", "IT"],
        token_hash="a" * 64,
        expires_at=NOW + timedelta(days=1),
    )

    assert isinstance(added, StoredUser)
    assert (added.name, added.email, added.role, added.groups, added.teams) == (
        "hana", "hana@example.com", "agent", ("hr",), ("HR", "IT"),
    )  # fmt: skip
    assert "a" * 64 not in repr(added)
    assert store.users.by_name("hana") == added == store.users.by_token("a" * 64, NOW)
    assert store.users.all() == [added]
    with pytest.raises(dataclasses.FrozenInstanceError):
        added.role = "admin"  # type: ignore[misc]


def test_a_revoked_or_expired_token_finds_no_user(store: Store) -> None:
    user = store.users.add(
        name="sam", email="s@example.com", role="employee", groups=[], teams=[], token_hash="b" * 64, expires_at=NOW
    )
    assert store.users.by_token("b" * 64, NOW) is None  # expired at NOW
    assert store.users.by_token("b" * 64, NOW - timedelta(seconds=1)) == user
    assert store.users.revoke(user.id, NOW) == 1
    assert store.users.by_token("b" * 64, NOW - timedelta(seconds=1)) is None


def test_audit_entries_carry_every_column_newest_first(store: Store) -> None:
    store.audit.add(actor="cli", action="user.create", target="hana", origin="cli", role="agent")
    store.audit.add(actor="hana", action="auth.sign_in", origin="10.0.0.1")

    newest, oldest = store.audit.recent(10)

    assert (newest["actor"], newest["action"], newest["target"], newest["origin"], newest["detail"]) == (
        "hana", "auth.sign_in", "", "10.0.0.1", {},
    )  # fmt: skip
    assert oldest["detail"] == {"role": "agent"}
    assert set(oldest) == {"id", "at", "actor", "action", "target", "origin", "detail"}
    assert newest["id"] > oldest["id"] and newest["at"] >= oldest["at"]
