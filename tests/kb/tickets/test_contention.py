"""Ticket writes under contention on a real SQLite file (issue 17, part 5): they take the write lock up front
(`BEGIN IMMEDIATE`) and wait for it longer than SQLite's usual 5 s, so contention slows writers instead of failing
them; readers never wait for it.

Observed with the old engine (busy_timeout 5 s, pysqlite's own deferred BEGIN): with the write lock held for 6 s by
another connection, 15 of 64 concurrent ticket writers (one per pooled connection) failed with `database is
locked` after 5 s, and their tickets were lost."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from indexer.embedders import Embedder
from kb.service import KnowledgeBase
from kb.settings import Settings
from kb.store import schema
from kb.store.engine import create_engine
from kb.tickets import NewTicket

pytestmark = pytest.mark.both_stores

WRITERS = 64


@pytest.fixture
def kb(small_settings: Settings, embedder: Embedder) -> Iterator[KnowledgeBase]:
    knowledge_base = KnowledgeBase(small_settings.model_copy(update={"maintenance_seconds": 0}), embedder=embedder)
    yield knowledge_base
    knowledge_base.close()


def _database(settings: Settings) -> Path:
    """The SQLite file, for the tests that hold its write lock from a connection of their own."""
    return settings.data_dir / "kb.sqlite3"


def _new(number: int) -> NewTicket:
    # A team given: no routing search, the write is all there is to it.
    return NewTicket(subject=f"Ticket {number}", description="Contention.", requester="ana@example.com", team="IT")


def _create_all_at_once(kb: KnowledgeBase, count: int) -> tuple[list[int], Counter[str]]:
    """`count` tickets created from as many threads at once: the ids made and the failures, by kind."""
    ids: list[int] = []
    failures: Counter[str] = Counter()
    lock = threading.Lock()
    start = threading.Barrier(count)

    def create(number: int) -> None:
        start.wait()
        try:
            ticket, _ = kb.tickets.create(_new(number))
        except Exception as exc:
            with lock:
                failures[f"{type(exc).__name__}: {str(exc).splitlines()[0]}"] += 1
        else:
            with lock:
                ids.append(int(ticket["id"]))

    threads = [threading.Thread(target=create, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return ids, failures


def _stored_tickets(kb: KnowledgeBase) -> int:
    with kb.store.engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(schema.tickets)).scalar_one())


def test_64_concurrent_writers_all_land(kb: KnowledgeBase) -> None:
    ids, failures = _create_all_at_once(kb, WRITERS)
    assert not failures
    assert len(set(ids)) == WRITERS
    assert _stored_tickets(kb) == WRITERS


@pytest.mark.slow
@pytest.mark.sqlite_only
def test_writers_outwait_a_write_lock_held_past_sqlites_usual_wait(kb: KnowledgeBase) -> None:
    """Another process (here: a raw connection) holds the write lock for 6 s, longer than SQLite's usual 5 s wait:
    every one of 64 concurrent writers waits for it and lands; none is lost."""
    kb.store.tickets.get(1)  # the store exists (schema made) before the lock is taken
    holder = sqlite3.connect(_database(kb.settings), isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    released = threading.Timer(6.0, lambda: holder.execute("COMMIT"))
    released.start()
    try:
        started = time.monotonic()
        ids, failures = _create_all_at_once(kb, WRITERS)
        waited = time.monotonic() - started
    finally:
        released.join()
        holder.close()
    assert not failures, failures
    assert waited >= 5.5  # they did wait for the lock
    assert len(set(ids)) == WRITERS
    assert _stored_tickets(kb) == WRITERS


@pytest.mark.sqlite_only
def test_readers_do_not_wait_for_the_write_lock(kb: KnowledgeBase) -> None:
    """Only writes take the lock: while another connection holds it (with an uncommitted ticket), reads answer at
    once from the last committed state."""
    ticket, _ = kb.tickets.create(_new(1))
    holder = sqlite3.connect(_database(kb.settings), isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        holder.execute("UPDATE tickets SET subject = 'uncommitted' WHERE id = ?", (ticket["id"],))
        started = time.monotonic()
        assert kb.store.tickets.get(ticket["id"]).subject == "Ticket 1"  # type: ignore[union-attr]
        assert len(kb.store.tickets.events(ticket["id"], internal=True)) == 1
        assert time.monotonic() - started < 3.0  # the write lock is held for 6 s
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def test_a_write_transaction_begins_immediate(tmp_path: Path) -> None:
    """The write lock is taken by `BEGIN IMMEDIATE` before the transaction's first write (the old engine let
    pysqlite emit a deferred `BEGIN`); a read-only connection begins nothing, so it takes no lock."""
    engine = create_engine(f"sqlite:///{tmp_path / 'kb.sqlite3'}")
    schema.metadata.create_all(engine)
    statements: list[str] = []
    sa.event.listen(engine.pool, "connect", lambda dbapi, _record: dbapi.set_trace_callback(statements.append))
    engine.dispose()  # new connections, traced
    try:
        with engine.connect() as conn:
            conn.execute(sa.select(schema.tickets.c.id)).all()
        assert not [s for s in statements if s.upper().startswith("BEGIN")], statements
        statements.clear()
        with engine.begin() as conn:
            conn.execute(sa.delete(schema.tickets).where(schema.tickets.c.id == -1))
        begins = [s for s in statements if s.upper().startswith(("BEGIN", "DELETE", "COMMIT"))]
        assert [s.split()[0].upper() for s in begins] == ["BEGIN", "DELETE", "COMMIT"], statements
        assert begins[0].upper() == "BEGIN IMMEDIATE"
    finally:
        engine.dispose()
