"""The change log servers follow: `article_changes`, one row per change to what employees see of an article, with
an ever-increasing `seq` and the content hash shown after it.

Each server keeps its own index in memory and applies the changes after the last one it holds (kb.follower).
That only works if no change can appear *behind* one a follower has already passed: on PostgreSQL two transactions
may take sequence numbers 7 and 8 and commit 8 first. So every transaction that logs a change first takes one
transaction-scoped advisory lock: changes commit in the order of their numbers. The same transaction sends a
NOTIFY, delivered at its commit, which wakes the other servers at once; on SQLite (one machine, one file) they poll.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from kb.store import schema

log = logging.getLogger(__name__)

CHANNEL = "kb_changes"
_ORDER_LOCK_KEY = 0x6B62_6368  # "kbch": any constant, distinct from the migration lock's


@dataclass(frozen=True)
class LoggedChange:
    seq: int
    article_id: str
    content_hash: str | None  # what employees see after the change; None: nothing (unpublished, archived, deleted)
    at: datetime


def in_change_order(conn: Connection) -> None:
    """Take the change log's order lock for this transaction (PostgreSQL; SQLite has one writer at a time anyway).
    Call it before the transaction's first write, so that it waits rather than deadlocks."""
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _ORDER_LOCK_KEY})


def append(conn: Connection, article_id: str, was_shown: bool, audience_before: list[str], at: datetime) -> None:
    """Log a change to `article_id`, already written in this transaction: its shown content hash is read back."""
    in_change_order(conn)
    articles = schema.articles
    after = conn.execute(
        sa.select(articles.c.content_hash, articles.c.published_version, articles.c.status).where(
            articles.c.id == article_id
        )
    ).first()
    shown = after is not None and after.published_version is not None and after.status != "archived"
    conn.execute(
        sa.insert(schema.article_changes).values(
            article_id=article_id,
            was_shown=was_shown,
            audience_before=audience_before,
            at=at,
            content_hash=after.content_hash if shown and after is not None else None,
        )
    )
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("SELECT pg_notify(:channel, '')"), {"channel": CHANNEL})


class ChangeLogRepository:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def head(self) -> int:
        """The newest change's number (0: none yet)."""
        with self._engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.max(schema.article_changes.c.seq))).scalar() or 0)

    def after(self, seq: int, limit: int = 10_000) -> list[LoggedChange]:
        """The changes after `seq`, oldest first, at most `limit`."""
        table = schema.article_changes
        query = (
            sa.select(table.c.seq, table.c.article_id, table.c.content_hash, table.c.at)
            .where(table.c.seq > seq)
            .order_by(table.c.seq)
            .limit(limit)
        )
        with self._engine.connect() as conn:
            return [LoggedChange(int(r.seq), r.article_id, r.content_hash, r.at) for r in conn.execute(query)]


class ChangeWakeups:
    """Waits for the next change another server commits: LISTEN on PostgreSQL, so a follower wakes within
    milliseconds; elsewhere, or while the server cannot be reached, it simply waits out the poll interval."""

    def __init__(self, engine: Engine) -> None:
        self._enabled = engine.dialect.name == "postgresql"
        self._url = engine.url
        self._connection: Any = None

    def wait(self, timeout: float, stop: threading.Event) -> None:
        """Return when a change is announced, after `timeout` seconds, or as soon as `stop` is set."""
        if not self._enabled or not self._listening():
            stop.wait(timeout)
            return
        try:
            # Several notifications arriving together wake the follower once: it reads the whole log anyway.
            for _ in self._connection.notifies(timeout=timeout, stop_after=1):
                pass
            for _ in self._connection.notifies(timeout=0):
                pass
        except Exception as exc:  # the server went away: poll until it is back
            log.info("change notifications paused (%s); polling", exc)
            self.close()
            stop.wait(timeout)

    def _listening(self) -> bool:
        if self._connection is not None:
            return True
        try:
            import psycopg

            url = self._url.set(drivername="postgresql").render_as_string(hide_password=False)
            self._connection = psycopg.connect(url, autocommit=True, connect_timeout=3)
            self._connection.execute(f"LISTEN {CHANNEL}")
        except Exception as exc:
            log.debug("cannot listen for changes (%s); polling", exc)
            self.close()
            return False
        return True

    def close(self) -> None:
        if self._connection is not None:
            with contextlib.suppress(Exception):  # already broken
                self._connection.close()
            self._connection = None
