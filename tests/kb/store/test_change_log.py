"""The change log servers follow: numbered in commit order, with the hash shown after each change, and on PostgreSQL
a NOTIFY that wakes a waiting follower at once."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from bench.postgres import PostgresServer
from kb.store import Store
from kb.store.change_log import ChangeWakeups, append, in_change_order

pytestmark = pytest.mark.both_stores


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    opened = Store(database_url)
    yield opened
    opened.close()


def _log(store: Store, article_id: str) -> None:
    with store.engine.begin() as conn:
        in_change_order(conn)
        append(conn, article_id, None, datetime.now(UTC))


def test_changes_logged_by_concurrent_writers_are_read_in_order_with_no_gap(store: Store) -> None:
    def write(number: int) -> None:
        for n in range(10):
            _log(store, f"a{number}-{n}")

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    changes = store.change_log.after(0)
    assert [c.seq for c in changes] == sorted(c.seq for c in changes)
    assert len(changes) == 40 and store.change_log.head() == changes[-1].seq
    assert all(c.shown_digest is None for c in changes)  # no such article is shown
    assert store.change_log.after(changes[19].seq) == changes[20:]


def test_a_waiting_follower_wakes_at_the_commit_of_a_change(postgres_server: PostgresServer) -> None:
    store = Store(postgres_server.url(postgres_server.create_database()))
    wakeups = ChangeWakeups(store.engine)
    try:
        threading.Timer(0.5, _log, args=(store, "vpn")).start()
        started = time.monotonic()
        wakeups.wait(30, threading.Event())
        assert time.monotonic() - started < 10  # woken by the NOTIFY, long before the 30 s poll
    finally:
        wakeups.close()
        store.close()
