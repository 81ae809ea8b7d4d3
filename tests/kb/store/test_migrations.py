"""Schema migrations (Alembic): a new store, a store from before migrations, concurrency, and `kb db`; on SQLite
and on PostgreSQL (every revision up and down, adoption, servers starting together).

The store from before migrations is frozen in fixtures/: the DDL a store created by the last release without
Alembic holds (its sqlite_master) and representative rows of every table, as that release wrote them.
"""

from __future__ import annotations

import re
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from typer.testing import CliRunner

from bench.postgres import PostgresServer
from kb.cli.main import app as cli
from kb.store import Store, schema
from kb.store.migrate import alembic_config, current_revision, head_revision, migrate

FIXTURES = Path(__file__).with_name("fixtures")
PRE_ALEMBIC_SCHEMA = (FIXTURES / "pre_alembic_schema.sql").read_text()
PRE_ALEMBIC_ROWS = (FIXTURES / "pre_alembic_rows.sql").read_text()
# The tables a store from before migrations has, as its frozen DDL names them: revisions after the baseline added
# the others.
PRE_ALEMBIC_TABLES = sorted(re.findall(r"^CREATE TABLE (\w+)", PRE_ALEMBIC_SCHEMA, flags=re.MULTILINE))
NOW = datetime(2026, 12, 1, tzinfo=UTC)


def _url(path: Path) -> str:
    return f"sqlite:///{path}"


def _pre_alembic_store(path: Path, ddl: str = PRE_ALEMBIC_SCHEMA) -> Path:
    with sqlite3.connect(path) as connection:
        connection.executescript(ddl)
        connection.executescript(PRE_ALEMBIC_ROWS)
    connection.close()
    return path


def _rows(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table a store from before migrations has, as SQLite holds it (no type conversion in
    between), in storage order."""
    return _rows_of(path, PRE_ALEMBIC_TABLES)


def _kept(after: dict[str, list[tuple[Any, ...]]], before: dict[str, list[tuple[Any, ...]]]) -> bool:
    """Every row as it was: columns added by later revisions come after the old ones, empty."""
    for table, rows in before.items():
        width = len(rows[0]) if rows else 0
        if [row[:width] for row in after[table]] != rows or any(v is not None for r in after[table] for v in r[width:]):
            return False
    return True


def _rows_of(path: Path, tables: list[str]) -> dict[str, list[tuple[Any, ...]]]:
    with sqlite3.connect(path) as connection:
        rows = {table: connection.execute(f'SELECT * FROM "{table}" ORDER BY rowid').fetchall() for table in tables}
    connection.close()
    return rows


def _ddl(path: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(path) as connection:
        ddl = connection.execute("SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY name").fetchall()
    connection.close()
    return ddl


def _differences(path: Path) -> list[Any]:
    """What Alembic's autogenerate would still change to make the store match kb.store.schema: nothing, at head."""
    engine = sa.create_engine(_url(path))
    try:
        with engine.connect() as connection:
            return list(compare_metadata(MigrationContext.configure(connection), schema.metadata))
    finally:
        engine.dispose()


def _open_and_close(url: str) -> None:
    Store(url).close()


def test_a_new_store_is_created_at_the_head_and_matches_the_schema(tmp_path: Path) -> None:
    store = Store(_url(tmp_path / "kb.sqlite3"))
    try:
        assert current_revision(store.engine) == head_revision()
    finally:
        store.close()

    assert _differences(tmp_path / "kb.sqlite3") == []


def test_a_store_from_before_migrations_keeps_every_row(tmp_path: Path) -> None:
    path = _pre_alembic_store(tmp_path / "kb.sqlite3")
    before = _rows(path)
    assert all(before[table] for table in PRE_ALEMBIC_TABLES), "the fixture has rows in every table"

    store = Store(_url(path))
    try:
        assert current_revision(store.engine) == head_revision()
        # The rows still read back through today's column types: aware UTC times, JSON, bytes.
        with store.engine.connect() as connection:
            ticket = connection.execute(sa.select(schema.tickets).where(schema.tickets.c.id == 1)).one()
            token = connection.execute(sa.select(schema.tokens).where(schema.tokens.c.user_id == 2)).one()
            vector = connection.execute(sa.select(schema.ticket_vectors.c.vector)).scalar_one()
        assert ticket.resolved_at.utcoffset().total_seconds() == 0
        assert ticket.viewed_article_ids == ["printer-offline-floor-printer"]
        assert token.revoked_at is not None
        assert len(vector) == 16
    finally:
        store.close()

    assert _kept(_rows(path), before)
    assert _differences(path) == []


def test_an_older_store_gains_what_the_additive_migration_used_to_add(tmp_path: Path) -> None:
    """A store from a release before `version` and the webhook outbox: the baseline adds the nullable columns
    and the missing table (with its indexes), as kb.store.migrate did before Alembic, and keeps every row."""
    path = _pre_alembic_store(tmp_path / "kb.sqlite3")
    with sqlite3.connect(path) as connection:
        connection.executescript(
            "DROP TABLE webhook_outbox;"
            "ALTER TABLE tickets DROP COLUMN version;"
            "ALTER TABLE team_overrides DROP COLUMN version;"
        )
    connection.close()
    before = _rows_of(path, ["tickets", "team_overrides", "users", "tokens"])

    _open_and_close(_url(path))

    after = _rows_of(path, ["tickets", "team_overrides", "users", "tokens", "webhook_outbox"])
    assert after["tickets"] == [(*row, None) for row in before["tickets"]]  # the new column, empty
    assert after["team_overrides"] == [(*row, None) for row in before["team_overrides"]]
    assert after["users"] == before["users"]
    assert after["tokens"] == before["tokens"]
    assert after["webhook_outbox"] == []
    assert _differences(path) == []


def test_upgrading_again_changes_nothing(tmp_path: Path) -> None:
    path = _pre_alembic_store(tmp_path / "kb.sqlite3")
    _open_and_close(_url(path))
    ddl, rows = _ddl(path), _rows(path)

    _open_and_close(_url(path))
    engine = sa.create_engine(_url(path))
    try:
        migrate(engine, schema.metadata)
        with engine.connect() as connection:
            versions = connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalars().all()
    finally:
        engine.dispose()

    assert versions == [head_revision()]
    assert _ddl(path) == ddl
    assert _rows(path) == rows


@pytest.mark.parametrize("kind", ["new", "from before migrations"])
def test_threads_opening_one_store_at_once_all_succeed(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "kb.sqlite3"
    if kind != "new":
        _pre_alembic_store(path)
    workers = 8
    start = threading.Barrier(workers)
    errors: list[BaseException] = []

    def open_store() -> None:
        start.wait()
        try:
            _open_and_close(_url(path))
        except BaseException as exc:  # collected: an exception in a thread would otherwise pass unseen
            errors.append(exc)

    threads = [threading.Thread(target=open_store) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert _differences(path) == []
    with sqlite3.connect(path) as connection:
        assert connection.execute("SELECT version_num FROM alembic_version").fetchall() == [(head_revision(),)]
    connection.close()


def test_processes_starting_at_once_on_a_new_store_all_succeed(tmp_path: Path) -> None:
    path = tmp_path / "kb.sqlite3"
    # Each process imports kb, says so, and opens the store once told to: all of them at the same moment.
    script = "import sys\nfrom kb.store import Store\nprint('ready', flush=True)\nsys.stdin.readline()\n"
    script += "Store(sys.argv[1]).close()\n"
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", script, _url(path)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    for process in processes:
        assert process.stdout is not None
        assert process.stdout.readline() == "ready\n"
    for process in processes:
        assert process.stdin is not None
        process.stdin.write("go\n")
        process.stdin.flush()
    failures = [process.communicate(timeout=120)[1] for process in processes if process.wait(timeout=120) != 0]

    assert failures == []
    assert _differences(path) == []


# `kb db`


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> CliRunner:
    monkeypatch.setenv("KB_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("KB_DATABASE_URL", raising=False)
    monkeypatch.setenv("COLUMNS", "200")
    return CliRunner()


def test_kb_db_current_and_upgrade(runner: CliRunner, tmp_path: Path) -> None:
    head = head_revision()

    missing = runner.invoke(cli, ["db", "current"])
    assert missing.exit_code == 0, missing.output
    assert missing.stdout.startswith("none: no store")
    assert not (tmp_path / "data" / "kb.sqlite3").exists()  # `current` creates nothing

    upgraded = runner.invoke(cli, ["db", "upgrade"])
    assert upgraded.exit_code == 0, upgraded.output
    assert f"revision {head} (head)" in upgraded.stdout

    current = runner.invoke(cli, ["db", "current"])
    assert current.exit_code == 0, current.output
    assert current.stdout.strip() == f"{head} (head)"


def test_kb_db_current_names_a_store_from_before_migrations_and_upgrade_adopts_it(
    runner: CliRunner, tmp_path: Path
) -> None:
    (tmp_path / "data").mkdir()
    path = _pre_alembic_store(tmp_path / "data" / "kb.sqlite3")
    rows = _rows(path)

    before = runner.invoke(cli, ["db", "current"])
    assert before.exit_code == 0, before.output
    assert before.stdout.startswith("none: not under migrations yet")

    assert runner.invoke(cli, ["db", "upgrade"]).exit_code == 0
    assert runner.invoke(cli, ["db", "current"]).stdout.strip() == f"{head_revision()} (head)"
    assert _kept(_rows(path), rows)


@pytest.mark.parametrize(
    ("command", "url"),
    [
        ("upgrade", "sqlite:////proc/kb-nowhere/kb.sqlite3"),  # a folder that cannot be created, even by root
        ("current", "sqlite:////proc"),  # a folder where the database file should be
        ("upgrade", "sqlite:////proc"),
        ("current", "postgresql+psycopg://kb:secret@127.0.0.1:1/kb"),  # no driver installed, or no server there
        ("upgrade", "postgresql+psycopg://kb:secret@127.0.0.1:1/kb"),
        ("current", "not a url"),
        ("upgrade", "not a url"),
    ],
)
def test_kb_db_on_an_unreachable_store_fails_in_one_line(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch, command: str, url: str
) -> None:
    monkeypatch.setenv("KB_DATABASE_URL", url)

    result = runner.invoke(cli, ["db", command])

    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit)  # a clean exit, not an exception escaping the command
    assert result.stderr.startswith("error: ")
    assert "Traceback" not in result.output
    assert "secret" not in result.output


@contextmanager
def _tmpfs(folder: Path) -> Iterator[Path]:
    folder.mkdir(parents=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(folder)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {mounted.stderr.decode().strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def test_kb_db_upgrade_on_a_read_only_store_fails_in_one_line_through_the_entry_point(tmp_path: Path) -> None:
    with _tmpfs(tmp_path / "disk") as disk:
        _pre_alembic_store(disk / "kb.sqlite3")
        subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)
        kb = Path(sys.executable).with_name("kb")
        environment = {"PATH": "/usr/bin:/bin", "KB_DATA_DIR": str(disk), "HOME": str(tmp_path)}

        result = subprocess.run([str(kb), "db", "upgrade"], capture_output=True, text=True, env=environment)

    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stderr.splitlines()[-1] == "error: the data directory is read-only; try again later", result.stderr
    assert "Traceback" not in result.stderr


# PostgreSQL: on the session's server (bench/postgres.py), each test on an empty database of its own.


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """An empty database: these tests are about what migrations do to one."""
    name = postgres_server.create_database()
    yield postgres_server.url(name)
    postgres_server.drop_database(name)


@pytest.fixture
def postgres_engine(postgres_url: str) -> Iterator[sa.Engine]:
    engine = sa.create_engine(postgres_url)
    yield engine
    engine.dispose()


def _revisions() -> list[str]:
    """Every shipped revision, oldest first."""
    script = ScriptDirectory.from_config(alembic_config())
    return [revision.revision for revision in reversed(list(script.walk_revisions()))]


def _alembic(engine: sa.Engine, verb: str, target: str) -> None:
    """`alembic upgrade|downgrade target` on `engine`, in one transaction as kb.store.migrate runs them."""
    with engine.begin() as connection:
        getattr(command, verb)(alembic_config(connection, schema.metadata), target)


def _pg_differences(engine: sa.Engine) -> list[Any]:
    with engine.connect() as connection:
        return list(compare_metadata(MigrationContext.configure(connection), schema.metadata))


def test_postgresql_runs_every_revision_up_and_down(postgres_engine: sa.Engine) -> None:
    """Each revision on its own, as a store a release behind meets it, then every downgrade down to the baseline
    (which has none: it would drop every ticket) and up again: DDL that only SQLite accepts fails here."""
    revisions = _revisions()
    assert revisions[0] == "0001" and revisions[-1] == head_revision()
    for revision in revisions:
        _alembic(postgres_engine, "upgrade", revision)
        assert current_revision(postgres_engine) == revision
    assert _pg_differences(postgres_engine) == []

    for revision in reversed(revisions[:-1]):
        _alembic(postgres_engine, "downgrade", revision)
        assert current_revision(postgres_engine) == revision
    _alembic(postgres_engine, "upgrade", "head")
    assert _pg_differences(postgres_engine) == []


def test_postgresql_new_store_is_at_the_head_and_typed(postgres_url: str) -> None:
    """A store opened on an empty database: the head revision, and the schema's types (times with their zone, JSON,
    booleans, serial ids) round-trip."""
    store = Store(postgres_url)
    try:
        assert current_revision(store.engine) == head_revision()
        assert _pg_differences(store.engine) == []
        with store.engine.begin() as connection:
            ids = [
                connection.execute(
                    sa.insert(schema.users)
                    .values(
                        name=name, email=f"{name}@example.com", role="agent", groups=["it"], teams=[], created_at=NOW
                    )
                    .returning(schema.users.c.id)
                ).scalar_one()
                for name in ("ana", "bob")
            ]
            connection.execute(
                sa.insert(schema.search_log).values(
                    query="vpn", answered=True, confidence=0.5, top_ids=["vpn"], latency_ms=1.0, created_at=NOW
                )
            )
        with store.engine.connect() as connection:
            user = connection.execute(sa.select(schema.users).where(schema.users.c.id == ids[1])).one()
            logged = connection.execute(sa.select(schema.search_log)).one()
        assert ids == [1, 2]
        assert user.groups == ["it"] and user.created_at == NOW and user.created_at.utcoffset().total_seconds() == 0
        assert logged.answered is True and logged.top_ids == ["vpn"]
    finally:
        store.close()


def test_postgresql_adopts_a_store_from_before_migrations_and_keeps_its_rows(postgres_engine: sa.Engine) -> None:
    """A store kb made before Alembic: the baseline's tables without alembic_version, from an older release still
    (no tickets.version, no webhook outbox). The upgrade adds what is missing and keeps every row."""
    _alembic(postgres_engine, "upgrade", "0001")
    with postgres_engine.begin() as connection:
        connection.exec_driver_sql("DROP TABLE alembic_version")
        connection.exec_driver_sql("DROP TABLE webhook_outbox")
        connection.exec_driver_sql("ALTER TABLE tickets DROP COLUMN version")
        connection.execute(
            sa.insert(schema.users).values(
                name="ana", email="a@example.com", role="admin", groups=[], teams=[], created_at=NOW
            )
        )
        connection.exec_driver_sql(
            "INSERT INTO tickets (subject, description, requester, team, priority, status, viewed_article_ids, "
            "created_at, expected_first_response_by, sla_risk_notified) "
            "VALUES ('Printer', 'Offline', 'ana', 'IT', 'normal', 'new', '[\"printer\"]', "
            "'2026-11-30 09:00+01', '2026-11-30 17:00+01', false)"
        )
    assert current_revision(postgres_engine) is None

    migrate(postgres_engine, schema.metadata)
    migrate(postgres_engine, schema.metadata)  # again: nothing to do

    assert current_revision(postgres_engine) == head_revision()
    assert _pg_differences(postgres_engine) == []
    with postgres_engine.connect() as connection:
        assert connection.execute(sa.select(schema.users.c.name)).scalars().all() == ["ana"]
        ticket = connection.execute(sa.select(schema.tickets)).one()
        assert connection.execute(sa.select(sa.func.count()).select_from(schema.webhook_outbox)).scalar_one() == 0
    assert ticket.viewed_article_ids == ["printer"] and ticket.version is None and ticket.sla_risk_notified is False
    assert ticket.created_at == datetime(2026, 11, 30, 8, 0, tzinfo=UTC)


def test_postgresql_stores_opened_by_many_threads_at_once_migrate_once(postgres_url: str) -> None:
    """Servers starting together on one new database: the advisory lock lets one migrate, the others wait and find
    it done."""
    workers = 6
    start = threading.Barrier(workers)
    errors: list[BaseException] = []

    def open_store() -> None:
        start.wait()
        try:
            _open_and_close(postgres_url)
        except BaseException as exc:  # collected: an exception in a thread would otherwise pass unseen
            errors.append(exc)

    threads = [threading.Thread(target=open_store) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    engine = sa.create_engine(postgres_url)
    try:
        assert _pg_differences(engine) == []
        with engine.connect() as connection:
            assert connection.exec_driver_sql("SELECT version_num FROM alembic_version").all() == [(head_revision(),)]
    finally:
        engine.dispose()


def test_kb_db_on_postgresql(runner: CliRunner, monkeypatch: pytest.MonkeyPatch, postgres_url: str) -> None:
    monkeypatch.setenv("KB_DATABASE_URL", postgres_url)

    before = runner.invoke(cli, ["db", "current"])
    assert before.exit_code == 0, before.output
    assert before.stdout.startswith("none: not under migrations yet")
    upgraded = runner.invoke(cli, ["db", "upgrade"])
    assert upgraded.exit_code == 0, upgraded.output
    assert runner.invoke(cli, ["db", "current"]).stdout.strip() == f"{head_revision()} (head)"
