"""Users and tokens: only hashes are stored, bad input is refused, and `kb users` prints the token once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from kb.cli.main import app
from kb.errors import InvalidInput, NotFound, Unauthorized
from kb.service import KnowledgeBase
from kb.settings import Settings
from kb.store import schema
from kb.users import UserService, hash_token

pytestmark = pytest.mark.both_stores


def _users_at(kb: KnowledgeBase, when: datetime, *, token_days: int) -> UserService:
    """The users of `kb` as seen by a clock stopped at `when`."""
    return UserService(kb.store.users, kb.store.audit, token_days, clock=lambda: when)


def _all_values(kb: KnowledgeBase, table: sa.Table) -> list[str]:
    with kb.store.engine.connect() as conn:
        rows = conn.execute(sa.select(table)).all()
    return [str(value) for row in rows for value in row]


# The service ------------------------------------------------------------------------------------------------
def test_tokens_are_stored_only_as_sha256_hashes(small_kb: KnowledgeBase) -> None:
    user, token = small_kb.users.add("hana", email="hana@example.com", role="employee", groups=["hr"])

    assert len(token) >= 32
    assert token not in str(user)
    with small_kb.store.engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(sa.select(schema.tokens)).all()]
    assert len(rows) == 1
    assert rows[0]["token_hash"] == hash_token(token)
    assert len(rows[0]["token_hash"]) == 64 and int(rows[0]["token_hash"], 16) >= 0
    # The raw token is in no column of any table.
    for table in schema.metadata.sorted_tables:
        assert all(token not in value for value in _all_values(small_kb, table)), table.name


def test_add_returns_a_fresh_token_per_user_that_authenticates(small_kb: KnowledgeBase) -> None:
    _, first = small_kb.users.add("a", email="a@example.com", role="agent", teams=["IT", " HR ", ""])
    _, second = small_kb.users.add("b", email="b@example.com", role="admin")

    assert first != second
    principal = small_kb.users.authenticate(first)
    assert (principal.name, principal.role, principal.teams) == ("a", "agent", frozenset({"IT", "HR"}))
    assert small_kb.users.authenticate(second).role == "admin"


def test_a_duplicate_name_is_refused(small_kb: KnowledgeBase) -> None:
    small_kb.users.add("hana", email="hana@example.com", role="employee")
    with pytest.raises(InvalidInput) as caught:
        small_kb.users.add("hana", email="other@example.com", role="admin")
    assert caught.value.field == "name"
    assert [u.email for u in small_kb.users.list()] == ["hana@example.com"]


@pytest.mark.parametrize("role", ["root", "Admin", "", "superuser"])
def test_an_unknown_role_is_refused(small_kb: KnowledgeBase, role: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        small_kb.users.add("x", email="x@example.com", role=role)
    assert caught.value.field == "role"
    assert small_kb.users.list() == []


def test_an_empty_name_or_a_bad_email_is_refused(small_kb: KnowledgeBase) -> None:
    with pytest.raises(InvalidInput):
        small_kb.users.add("  ", email="x@example.com", role="employee")
    with pytest.raises(InvalidInput):
        small_kb.users.add("x", email="not-an-email", role="employee")
    assert small_kb.users.list() == []


@pytest.mark.parametrize("name", ["local-admin", "Local-Admin", " LOCAL-ADMIN "])
def test_the_local_admin_name_is_reserved(small_kb: KnowledgeBase, name: str) -> None:
    """The API lets the principal named local-admin file tickets for anyone: no token may sign in as it."""
    with pytest.raises(InvalidInput) as caught:
        small_kb.users.add(name, email="x@example.com", role="employee")
    assert caught.value.field == "name"
    assert small_kb.users.list() == []


def test_revoking_an_unknown_user_is_not_found(small_kb: KnowledgeBase) -> None:
    with pytest.raises(NotFound):
        small_kb.users.revoke("nobody")


def test_revoke_makes_the_token_useless(small_kb: KnowledgeBase) -> None:
    _, token = small_kb.users.add("rita", email="rita@example.com", role="employee")
    assert small_kb.users.revoke("rita") == 1
    with pytest.raises(Unauthorized):
        small_kb.users.authenticate(token)
    assert small_kb.users.revoke("rita") == 0  # nothing left to revoke


@pytest.mark.parametrize("token", ["", "nope", "x" * 43])
def test_unknown_tokens_are_unauthorized(small_kb: KnowledgeBase, token: str) -> None:
    small_kb.users.add("hana", email="hana@example.com", role="employee")
    with pytest.raises(Unauthorized):
        small_kb.users.authenticate(token)


def test_tokens_expire_after_token_days(small_settings: Settings) -> None:
    kb = KnowledgeBase(small_settings.model_copy(update={"token_days": 1}))
    try:
        now = datetime.now(UTC)
        _, token = kb.users.add("sam", email="sam@example.com", role="employee")
        assert kb.users.authenticate(token).name == "sam"
        assert _users_at(kb, now + timedelta(hours=23), token_days=1).authenticate(token).name == "sam"
        with pytest.raises(Unauthorized):
            _users_at(kb, now + timedelta(days=1, minutes=1), token_days=1).authenticate(token)
    finally:
        kb.close()


def test_a_sign_in_is_audited_on_first_use_then_once_an_hour_per_address(small_kb: KnowledgeBase) -> None:
    _, token = small_kb.users.add("sam", email="sam@example.com", role="employee")
    now = [datetime.now(UTC)]
    users = UserService(small_kb.store.users, small_kb.store.audit, 90, clock=lambda: now[0])

    def sign_ins() -> list[str]:
        return [e["origin"] for e in small_kb.store.audit.recent(1000) if e["action"] == "auth.sign_in"]

    for _ in range(50):
        assert users.authenticate(token, origin="10.0.0.1").name == "sam"
    assert sign_ins() == ["10.0.0.1"]
    now[0] += timedelta(minutes=59)
    users.authenticate(token, origin="10.0.0.1")
    users.authenticate(token, origin="10.0.0.2")  # the same token from somewhere new is worth a row
    assert sign_ins() == ["10.0.0.2", "10.0.0.1"]
    now[0] += timedelta(minutes=2)
    users.authenticate(token, origin="10.0.0.1")  # an hour after the last row: audited again
    assert sign_ins() == ["10.0.0.1", "10.0.0.2", "10.0.0.1"]
    # Failures are still audited every time (the API stops asking for an address that fails too often).
    for _ in range(3):
        with pytest.raises(Unauthorized):
            users.authenticate("wrong", origin="10.0.0.3")
    assert [e["action"] for e in small_kb.store.audit.recent(3)] == ["auth.failed"] * 3


def test_remembered_sign_ins_stay_bounded(small_kb: KnowledgeBase, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("kb.users.MAX_REMEMBERED_SIGN_INS", 5)
    users = UserService(small_kb.store.users, small_kb.store.audit, token_days=90)  # built with the smaller bound
    _, token = users.add("sam", email="sam@example.com", role="employee")
    for n in range(50):
        users.authenticate(token, origin=f"10.0.0.{n}")
    assert len(users._sign_ins) == 5


# The CLI ----------------------------------------------------------------------------------------------------
@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, small_settings: Settings) -> CliRunner:
    """`kb` pointed at the small KB's folders; loading the model would fail the test."""

    def no_model(_settings: Settings) -> None:
        raise AssertionError("`kb users` must not load the model")

    monkeypatch.setattr("kb.indexing.load_embedder", no_model)
    monkeypatch.setenv("KB_DATA_DIR", str(small_settings.data_dir))
    if small_settings.database_url is None:
        monkeypatch.delenv("KB_DATABASE_URL", raising=False)
    else:
        monkeypatch.setenv("KB_DATABASE_URL", small_settings.database_url)
    monkeypatch.setenv("KB_ARTICLES_DIR", str(small_settings.articles_dir))
    monkeypatch.setenv("COLUMNS", "200")
    return CliRunner()


def _kb(settings: Settings) -> KnowledgeBase:
    return KnowledgeBase(settings)


def test_cli_add_prints_the_token_as_the_last_line(cli: CliRunner, small_settings: Settings) -> None:
    args = ["users", "add", "hana", "--email", "hana@example.com", "--role", "agent"]
    result = cli.invoke(app, [*args, "--groups", "hr,payroll", "--teams", "IT"])

    assert result.exit_code == 0, result.output
    token = result.output.strip().splitlines()[-1].strip()
    assert " " not in token and len(token) >= 32
    kb = _kb(small_settings)
    try:
        principal = kb.users.authenticate(token)
    finally:
        kb.close()
    assert principal.name == "hana"
    assert principal.role == "agent"
    assert principal.groups == frozenset({"hr", "payroll"})
    assert principal.teams == frozenset({"IT"})


def test_cli_list_shows_users_but_no_tokens(cli: CliRunner) -> None:
    added = cli.invoke(app, ["users", "add", "erik", "--email", "erik@example.com", "--role", "employee"])
    assert added.exit_code == 0, added.output
    token = added.output.strip().splitlines()[-1].strip()

    listed = cli.invoke(app, ["users", "list"])

    assert listed.exit_code == 0, listed.output
    assert "erik" in listed.output and "erik@example.com" in listed.output and "employee" in listed.output
    assert token not in listed.output
    assert hash_token(token) not in listed.output


def test_cli_revoke_then_the_token_fails(cli: CliRunner, small_settings: Settings) -> None:
    added = cli.invoke(app, ["users", "add", "rita", "--email", "rita@example.com", "--role", "employee"])
    assert added.exit_code == 0, added.output
    token = added.output.strip().splitlines()[-1].strip()

    revoked = cli.invoke(app, ["users", "revoke", "rita"])

    assert revoked.exit_code == 0, revoked.output
    kb = _kb(small_settings)
    try:
        with pytest.raises(Unauthorized):
            kb.users.authenticate(token)
    finally:
        kb.close()


@pytest.mark.parametrize(
    "args",
    [
        ["users", "add", "x", "--email", "x@example.com", "--role", "root"],
        ["users", "add", "x", "--email", "not-an-email"],
        ["users", "revoke", "nobody"],
        ["users", "add", "local-admin", "--email", "x@example.com", "--role", "admin"],
    ],
    ids=["bad-role", "bad-email", "revoke-unknown", "reserved-name"],
)
def test_cli_refuses_bad_input_with_a_message_not_a_traceback(cli: CliRunner, args: list[str]) -> None:
    result = cli.invoke(app, args)

    assert result.exit_code != 0
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_cli_add_refuses_a_duplicate_and_prints_no_token(cli: CliRunner, small_settings: Settings) -> None:
    first = cli.invoke(app, ["users", "add", "hana", "--email", "hana@example.com"])
    assert first.exit_code == 0, first.output

    second = cli.invoke(app, ["users", "add", "hana", "--email", "hana2@example.com"])

    assert second.exit_code != 0
    assert "already exists" in second.output
    kb = _kb(small_settings)
    try:
        assert [u.email for u in kb.users.list()] == ["hana@example.com"]
    finally:
        kb.close()
