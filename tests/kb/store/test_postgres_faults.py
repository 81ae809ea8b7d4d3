"""PostgreSQL faults as the domain sees them. A server that goes down under a running kb: writes fail fast as
StorageUnavailable (a 503 with Retry-After at the API), and once the server is back the same Store works again,
without restarting kb. Several kb servers share one database server, which gets restarted, upgraded or failed over.

Each test that stops a server starts one of its own: stopping the session's would break every other test."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from api.app import create_app
from bench.postgres import PostgresServer
from kb.errors import StorageUnavailable
from kb.settings import Settings
from kb.store import Store
from kb.store.engine import POSTGRES_CONNECT_TIMEOUT_SECONDS, create_engine
from kb.store.faults import as_storage_error, translate_storage_faults
from tests.conftest import TRUSTED, copy_small_articles
from tests.fakes import HashingEmbedder
from tests.postgres import started_server

# The engine's connect timeout is 3 s; a refused connection fails at once. Generous for a busy CI machine.
FAST_SECONDS = 5.0
TICKET = {"subject": "Printer offline", "description": "The floor printer shows offline.", "requester": "ana"}


@pytest.mark.parametrize(
    ("error", "retry_after"),
    [
        (psycopg.OperationalError("connection failed: Connection refused"), 5),  # no server answered: no SQLSTATE
        (psycopg.errors.ConnectionFailure(), 5),  # class 08
        (psycopg.errors.AdminShutdown(), 5),  # 57P01: `pg_ctl stop -m fast` ended the session
        (psycopg.errors.CrashShutdown(), 5),  # 57P02
        (psycopg.errors.CannotConnectNow(), 5),  # 57P03: starting up, or shutting down
        (psycopg.errors.DeadlockDetected(), 5),  # two writers in each other's way: one is rolled back, to retry
        (psycopg.errors.SerializationFailure(), 5),
        (psycopg.errors.DiskFull(), 30),
        (sa.exc.OperationalError("INSERT ...", {}, psycopg.errors.AdminShutdown()), 5),  # as SQLAlchemy wraps it
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, Exception) else str(value),
)
def test_postgresql_faults_are_storage_unavailable(error: Exception, retry_after: int) -> None:
    unavailable = as_storage_error(error)

    assert unavailable is not None
    assert unavailable.retry_after == retry_after
    assert unavailable.detail.endswith("; try again later")


@pytest.mark.parametrize(
    "error",
    [psycopg.errors.UniqueViolation(), psycopg.errors.UndefinedColumn(), psycopg.errors.QueryCanceled()],
    ids=lambda value: type(value).__name__,
)
def test_other_postgresql_errors_are_not_storage_faults(error: Exception) -> None:
    """A broken constraint is the domain's to handle (a duplicate key), a bad query is a bug: neither is a 503."""
    assert as_storage_error(error) is None


@pytest.fixture
def own_server() -> Iterator[PostgresServer]:
    with started_server() as server:
        yield server


def _add_user(store: Store, name: str) -> None:
    store.users.add(
        name=name,
        email=f"{name}@example.com",
        role="employee",
        groups=[],
        teams=[],
        token_hash=name.ljust(64, "0"),
        expires_at=datetime.now(UTC) + timedelta(days=1),
    )


def test_a_store_reports_a_stopped_server_fast_and_recovers_when_it_is_back(own_server: PostgresServer) -> None:
    store = Store(own_server.url(own_server.create_database()))
    try:
        _add_user(store, "before")  # the pool now holds a connection the stop will kill

        own_server.stop("fast")
        for attempt in ("write", "read"):  # the first finds the pooled connection dead, the next cannot connect
            started = time.monotonic()
            with pytest.raises(StorageUnavailable) as raised:
                if attempt == "write":
                    _add_user(store, "while-down")
                else:
                    store.users.all()
            assert time.monotonic() - started < FAST_SECONDS, attempt
            assert raised.value.retry_after is not None and raised.value.retry_after <= 5
            assert "database server" in raised.value.detail

        own_server.start()
        _add_user(store, "after")  # the same Store: its pool replaced the dead connections by itself
        assert [user.name for user in store.users.all()] == ["after", "before"]
    finally:
        store.close()


def test_a_server_restarted_between_two_writes_goes_unnoticed(own_server: PostgresServer) -> None:
    """The pool's connections all died with the restart: each is checked before use and replaced, so the first
    write after it succeeds (without the check, it would fail once on the dead connection)."""
    store = Store(own_server.url(own_server.create_database()))
    try:
        _add_user(store, "before")
        with store.engine.connect(), store.engine.connect():  # two pooled connections to kill, not just one
            pass

        own_server.stop("fast")
        own_server.start()

        _add_user(store, "after")
        assert [user.name for user in store.users.all()] == ["after", "before"]
    finally:
        store.close()


def test_a_server_that_never_answers_is_unavailable_after_the_connect_timeout() -> None:
    """A hung server (or a partition that swallows packets): connecting gives up after the engine's connect timeout
    instead of waiting for the operating system's, minutes later, with the request and a pool slot held."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()  # the handshake completes in the kernel; nobody ever answers the startup message
        port = silent.getsockname()[1]
        engine = create_engine(f"postgresql+psycopg://kb@127.0.0.1:{port}/kb")
        translate_storage_faults(engine)
        try:
            started = time.monotonic()
            with pytest.raises(StorageUnavailable, match="cannot be reached"), engine.connect():
                pass
            assert POSTGRES_CONNECT_TIMEOUT_SECONDS - 0.5 < time.monotonic() - started < FAST_SECONDS + 1
        finally:
            engine.dispose()


def test_the_api_answers_503_problem_json_while_the_server_is_down(own_server: PostgresServer, tmp_path: Path) -> None:
    embedder = HashingEmbedder()
    settings = Settings(
        data_dir=tmp_path / "data",
        articles_dir=copy_small_articles(tmp_path / "articles"),
        database_url=own_server.url(own_server.create_database()),
        trusted_clients=TRUSTED,
        rate_limit_per_minute=0,
        multilingual=False,
    )
    with TestClient(create_app(settings, embedder=embedder)) as client:
        assert client.post("/v1/tickets", json=TICKET | {"team": "IT"}).status_code == 201

        own_server.stop("fast")
        started = time.monotonic()
        down = client.post("/v1/tickets", json=TICKET | {"team": "IT"})
        assert time.monotonic() - started < FAST_SECONDS
        assert down.status_code == 503, down.text
        assert down.headers["content-type"].startswith("application/problem+json")
        assert down.json()["title"] == "Storage unavailable"
        assert int(down.headers["retry-after"]) <= 5

        own_server.start()
        assert client.post("/v1/tickets", json=TICKET | {"team": "IT"}).status_code == 201
