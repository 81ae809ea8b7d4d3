"""The change log servers follow: `article_changes`, one row per change to what employees see of an article, with
an ever-increasing `seq` and the digest of what is shown after it (content hash, team, audience, language). The
article's event for webhooks is recorded with it, in the change's transaction: once, whichever server indexes it.

Each server keeps its own index in memory and applies the changes after the last one it holds (kb.follower).
That only works if no change can appear *behind* one a follower has already passed: on PostgreSQL two transactions
may take sequence numbers 7 and 8 and commit 8 first. So every transaction that logs a change first takes one
transaction-scoped advisory lock: changes commit in the order of their numbers. The same transaction sends a
NOTIFY, delivered at its commit, which wakes the other servers at once; on SQLite (one machine, one file) they poll.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from kb.articles.model import StoredArticle
from kb.events import Announcement
from kb.store import schema
from kb.store.event_log import record

log = logging.getLogger(__name__)

CHANNEL = "kb_changes"
_ORDER_LOCK_KEY = 0x6B62_6368  # "kbch": any constant, distinct from the migration lock's


@dataclass(frozen=True)
class LoggedChange:
    seq: int
    article_id: str
    shown_digest: str | None  # what employees see after the change (`shown_digest`); None: nothing any more
    at: datetime

    def mark(self) -> dict[str, Any]:
        """What names this change in this store's log (its number alone may name another change in another log)."""
        return {"seq": self.seq, "article_id": self.article_id, "at": self.at.isoformat()}


def in_change_order(conn: Connection) -> None:
    """Take the change log's order lock for this transaction (PostgreSQL; SQLite has one writer at a time anyway).
    Call it before the transaction's first write, so that it waits rather than deadlocks."""
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _ORDER_LOCK_KEY})


def shown_digest(content_hash: str, team: str | None, audience: Sequence[str], language: str | None) -> str:
    """What the index must hold of a shown article: its text (the content hash) and who may find it, by which team,
    in which language. An index document's digest is the same function of its metadata (kb.follower)."""
    key = json.dumps([content_hash, team, sorted(audience), language], ensure_ascii=False)
    return hashlib.sha256(key.encode()).hexdigest()


def append(conn: Connection, article_id: str, before: StoredArticle | None, at: datetime) -> None:
    """Log a change to `article_id`, already written in this transaction (which holds the order lock), with the
    digest employees see after it, and record its event in the same transaction: `article.indexed` when an article
    meant for everyone became shown or changed, `article.removed` when one stopped being shown to everyone.
    Receivers are not readers: an article with an audience is never announced."""
    articles = schema.articles
    after = conn.execute(
        sa.select(
            articles.c.content_hash,
            articles.c.team,
            articles.c.audience,
            articles.c.language,
            articles.c.published_version,
            articles.c.status,
        ).where(articles.c.id == article_id)
    ).first()
    digest = None
    if after is not None and after.published_version is not None and after.status != "archived":
        digest = shown_digest(after.content_hash, after.team, after.audience or [], after.language)
    was_shown = before is not None and before.published
    conn.execute(
        sa.insert(schema.article_changes).values(
            article_id=article_id,
            was_shown=was_shown,
            audience_before=list(before.audience) if before is not None else [],
            at=at,
            shown_digest=digest,
        )
    )
    digest_before = None
    if before is not None and was_shown:
        digest_before = shown_digest(before.content_hash, before.team, before.audience, before.language)
    public_before = digest_before is not None and before is not None and not before.audience
    public_after = digest is not None and after is not None and not after.audience
    if public_after and digest != digest_before:
        record(conn, Announcement("article.indexed", {"article_id": article_id}), at, None, None)
    elif public_before and not public_after:
        record(conn, Announcement("article.removed", {"article_id": article_id}), at, None, None)
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("SELECT pg_notify(:channel, '')"), {"channel": CHANNEL})


class ChangeLogRepository:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def head(self) -> int:
        """The newest change's number (0: none yet)."""
        with self._engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.max(schema.article_changes.c.seq))).scalar() or 0)

    def newest(self) -> LoggedChange | None:
        """The newest change (None: none yet)."""
        return next(iter(self._read(sa.true(), limit=1, newest_first=True)), None)

    def change(self, seq: int) -> LoggedChange | None:
        """The change numbered `seq` (None: this log holds none under that number)."""
        return next(iter(self._read(schema.article_changes.c.seq == seq, limit=1)), None)

    def after(self, seq: int, limit: int = 10_000) -> list[LoggedChange]:
        """The changes after `seq`, oldest first, at most `limit`."""
        return self._read(schema.article_changes.c.seq > seq, limit=limit)

    def _read(self, where: Any, *, limit: int, newest_first: bool = False) -> list[LoggedChange]:
        table = schema.article_changes
        query = (
            sa.select(table.c.seq, table.c.article_id, table.c.shown_digest, table.c.at)
            .where(where)
            .order_by(table.c.seq.desc() if newest_first else table.c.seq)
            .limit(limit)
        )
        with self._engine.connect() as conn:
            return [LoggedChange(int(r.seq), r.article_id, r.shown_digest, r.at) for r in conn.execute(query)]


STOP_CHECK_SECONDS = 0.05


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
        deadline = time.monotonic() + timeout
        try:
            # In slices, so that a stopping server does not wait out the interval (a LISTEN wait sees no Event).
            while not stop.is_set() and (left := deadline - time.monotonic()) > 0:
                if any(True for _ in self._connection.notifies(timeout=min(left, STOP_CHECK_SECONDS), stop_after=1)):
                    # Several notifications arriving together wake the follower once: it reads the whole log anyway.
                    for _ in self._connection.notifies(timeout=0):
                        pass
                    return
        except Exception as exc:  # the server went away: poll until it is back
            log.info("change notifications paused (%s); polling", exc)
            self.close()
            stop.wait(timeout)

    def listen(self) -> None:
        """Start listening now (before a first catch-up), so that no change committed meanwhile waits a poll."""
        if self._enabled:
            self._listening()

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
