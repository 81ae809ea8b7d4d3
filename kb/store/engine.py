"""Engine creation: SQLite gets WAL and full fsync so accepted tickets survive a crash, and each write transaction
takes the write lock up front so that contention slows writers down instead of failing them; PostgreSQL gets
connections checked before use and a short connect timeout, so that a server restart is a brief 503, not an outage
of kb until it is restarted too."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

# How long connecting to a PostgreSQL server may take before the store reports itself unavailable.
POSTGRES_CONNECT_TIMEOUT_SECONDS = 3


def create_engine(url: str, *, flush_every_commit: bool = True, write_wait_seconds: float = 30.0) -> Engine:
    """An engine; on SQLite, WAL mode so readers never block the writer.

    With WAL every commit survives a crash or kill of the process. `flush_every_commit` (synchronous=FULL)
    also makes it survive a power cut, at the price of a disk flush per commit: right for tickets, too
    dear for the search log, which is written on every search.

    On SQLite a write transaction takes the write lock up front, `BEGIN IMMEDIATE` before its first write, and waits
    for it up to `write_wait_seconds` while another connection or process holds it. The default outlasts the worst
    wait measured, 5.8 s for a ticket among 64 concurrent writers (issue 17), several times over, where SQLite's
    usual 5 s failed them: contention slows writers down instead of failing them.
    """
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    # A connection from the pool is waited for longer than the write lock, so that a writer queued behind busy
    # connections fails, if at all, on the lock's wait (a clean StorageUnavailable) rather than on the pool's.
    options: dict[str, Any] = {"pool_timeout": write_wait_seconds + 30}
    parsed = sa.make_url(url)
    if parsed.get_backend_name() == "postgresql":
        # A server is shared, and restarted or failed over under running servers: a pooled connection is checked
        # before use (one round trip) and replaced if the server went away meanwhile, so kb recovers by itself once
        # the server is back; while it is down, connecting fails within seconds (StorageUnavailable, a 503), not
        # after the operating system's TCP timeout of minutes. A `connect_timeout` in the URL wins.
        options["pool_pre_ping"] = True
        if "connect_timeout" not in parsed.query:
            options["connect_args"] = {"connect_timeout": POSTGRES_CONNECT_TIMEOUT_SECONDS}
    engine = sa.create_engine(url, **options)
    if engine.dialect.name == "sqlite":
        synchronous = "FULL" if flush_every_commit else "NORMAL"
        busy_timeout_ms = round(write_wait_seconds * 1000)
        writes = ("INSERT", "UPDATE", "DELETE", "REPLACE", "CREATE", "ALTER", "DROP")

        def pragmas(dbapi_connection: Any, _record: Any) -> None:
            # SQLAlchemy's recipe for taking over pysqlite's transactions: the driver begins none of its own (it
            # would BEGIN DEFERRED before an INSERT, UPDATE or DELETE); `write_lock_first` begins them.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")  # first: the pragmas below may wait too
            _wal(cursor, write_wait_seconds)
            cursor.execute(f"PRAGMA synchronous={synchronous}")
            cursor.close()

        def write_lock_first(
            _conn: Any, cursor: Any, statement: str, _parameters: Any, _context: Any, _executemany: bool
        ) -> None:
            # A transaction's first write (every write transaction here starts with its write: a compare-and-set
            # where it must check first) begins it with the write lock: the wait happens there, in BEGIN, and the
            # transaction can no longer fail on the lock. Reads before it run on their own, as they always did
            # with pysqlite: a snapshot in WAL mode, which never waits for the writer nor holds it up. (Not in
            # SQLAlchemy's `begin` event: it fires alike for `engine.begin()` and for a reader's first statement.)
            if not cursor.connection.in_transaction and statement.lstrip()[:7].upper().startswith(writes):
                cursor.execute("BEGIN IMMEDIATE")

        sa.event.listen(engine, "connect", pragmas)
        sa.event.listen(engine, "before_cursor_execute", write_lock_first)
    return engine


def _wal(cursor: Any, wait_seconds: float) -> None:
    """Switch to WAL, waiting up to `wait_seconds` for processes that open a new store at the same moment: SQLite
    answers "database is locked" to a journal-mode change at once, without its busy handler, while another
    connection holds the file's lock (seen with four processes creating one store at once on a busy host)."""
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
            time.sleep(0.05)
