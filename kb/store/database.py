"""Engine creation and the repositories; SQLite gets WAL and full fsync so accepted tickets survive a crash."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from kb.articles import Article
from kb.store import schema
from kb.store.event_log import EventLogRepository
from kb.store.faults import translate_storage_faults
from kb.store.migrate import migrate
from kb.store.tickets import SurveyRepository, TicketRepository
from kb.store.timestamps import rows_between


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
    engine = sa.create_engine(url, pool_timeout=write_wait_seconds + 30)
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
            cursor.execute("PRAGMA journal_mode=WAL")
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


class ArticleRepository:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def sync(self, articles: Sequence[Article]) -> None:
        """Make the table mirror `articles` exactly, in one transaction."""
        now = datetime.now(UTC)
        table = schema.articles
        with self._engine.begin() as conn:
            conn.execute(sa.delete(table))
            if articles:
                conn.execute(
                    sa.insert(table),
                    [
                        {
                            "id": a.id,
                            "title": a.title,
                            "team": a.team,
                            "tags": list(a.tags),
                            "audience": list(a.audience),
                            "language": a.language,
                            "status": a.status,
                            "updated": a.updated,
                            "source": a.source,
                            "body": a.body,
                            "front_matter": a.front_matter,
                            "content_hash": a.content_hash,
                            "synced_at": now,
                        }
                        for a in articles
                    ],
                )

    def get(self, article_id: str) -> dict[str, Any] | None:
        with self._engine.connect() as conn:
            row = conn.execute(sa.select(schema.articles).where(schema.articles.c.id == article_id)).first()
        return dict(row._mapping) if row else None

    def audiences(self, ids: Collection[str] | None = None) -> dict[str, list[str]]:
        """Stored articles' audiences by id: every article's, or those of `ids` that exist."""
        table = schema.articles
        query = sa.select(table.c.id, table.c.audience)
        if ids is not None:
            query = query.where(table.c.id.in_(list(ids)))
        with self._engine.connect() as conn:
            return {row.id: list(row.audience or []) for row in conn.execute(query)}

    def published(self) -> list[dict[str, Any]]:
        """Every published article, by title. Readability is decided by the caller (kb.access), so the list
        is filtered before it is paged, counted or faceted."""
        table = schema.articles
        with self._engine.connect() as conn:
            query = sa.select(table).where(table.c.status == "published").order_by(table.c.title, table.c.id)
            rows = conn.execute(query).all()
        return [dict(r._mapping) for r in rows]


class SearchLogRepository:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def add(
        self,
        *,
        query: str,
        answered: bool,
        confidence: float,
        top_ids: list[str],
        latency_ms: float,
        user: str | None = None,
    ) -> None:
        with self._engine.begin() as conn:
            conn.execute(
                sa.insert(schema.search_log).values(
                    query=query,
                    answered=answered,
                    confidence=confidence,
                    top_ids=top_ids,
                    latency_ms=latency_ms,
                    user=user,
                    created_at=datetime.now(UTC),
                )
            )

    def add_many(self, rows: list[dict[str, Any]]) -> None:
        """Bulk insert (generated histories); each row has the columns of `add`, `created_at` included."""
        if rows:
            with self._engine.begin() as conn:
                conn.execute(sa.insert(schema.search_log), rows)

    def between(self, start: datetime | None = None, end: datetime | None = None) -> list[dict[str, Any]]:
        return rows_between(self._engine, schema.search_log, "created_at", start, end)

    def recent(self, limit: int = 100) -> list[dict[str, Any]]:
        table = schema.search_log
        with self._engine.connect() as conn:
            rows = conn.execute(sa.select(table).order_by(table.c.id.desc()).limit(limit)).all()
        return [dict(r._mapping) for r in rows]


class UserRepository:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def add(self, values: dict[str, Any], token_hash: str, expires_at: datetime) -> dict[str, Any]:
        """The user and their first token, in one transaction."""
        now = datetime.now(UTC)
        with self._engine.begin() as conn:
            result = conn.execute(sa.insert(schema.users).values(**values, created_at=now))
            user_id = int(result.inserted_primary_key[0])  # type: ignore[index]
            conn.execute(
                sa.insert(schema.tokens).values(
                    user_id=user_id, token_hash=token_hash, created_at=now, expires_at=expires_at
                )
            )
        found = self.by_name(values["name"])
        assert found is not None  # just committed
        return found

    def by_name(self, name: str) -> dict[str, Any] | None:
        with self._engine.connect() as conn:
            row = conn.execute(sa.select(schema.users).where(schema.users.c.name == name)).first()
        return dict(row._mapping) if row else None

    def all(self) -> list[dict[str, Any]]:
        with self._engine.connect() as conn:
            rows = conn.execute(sa.select(schema.users).order_by(schema.users.c.name)).all()
        return [dict(r._mapping) for r in rows]

    def by_token(self, token_hash: str, now: datetime) -> dict[str, Any] | None:
        """The user holding this token, if it is neither revoked nor expired."""
        tokens, users = schema.tokens, schema.users
        query = (
            sa.select(users)
            .join(tokens, tokens.c.user_id == users.c.id)
            .where(tokens.c.token_hash == token_hash, tokens.c.revoked_at.is_(None), tokens.c.expires_at > now)
        )
        with self._engine.connect() as conn:
            row = conn.execute(query).first()
        return dict(row._mapping) if row else None

    def revoke(self, user_id: int, now: datetime) -> int:
        tokens = schema.tokens
        with self._engine.begin() as conn:
            result = conn.execute(
                sa.update(tokens)
                .where(tokens.c.user_id == user_id, tokens.c.revoked_at.is_(None))
                .values(revoked_at=now)
            )
        return int(result.rowcount)


class AuditRepository:
    """Who did what, when, from where: sign-ins, permission and article changes, agents viewing tickets."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def add(self, *, actor: str, action: str, target: str = "", origin: str = "", **detail: Any) -> None:
        with self._engine.begin() as conn:
            conn.execute(
                sa.insert(schema.audit_log).values(
                    at=datetime.now(UTC), actor=actor, action=action, target=target, origin=origin, detail=detail
                )
            )

    def recent(self, limit: int = 100) -> list[dict[str, Any]]:
        table = schema.audit_log
        with self._engine.connect() as conn:
            rows = conn.execute(sa.select(table).order_by(table.c.id.desc()).limit(limit)).all()
        return [dict(r._mapping) for r in rows]


class Store:
    """One engine, its schema created on open, and the repositories over it."""

    def __init__(self, url: str) -> None:
        self.engine = create_engine(url)
        self._log_engine = create_engine(url, flush_every_commit=False)
        for engine in (self.engine, self._log_engine):
            translate_storage_faults(engine)
        migrate(self.engine, schema.metadata)
        self.articles = ArticleRepository(self.engine)
        self.tickets = TicketRepository(self.engine)
        self.surveys = SurveyRepository(self.engine)
        self.event_log = EventLogRepository(self.engine)
        self.search_log = SearchLogRepository(self._log_engine)
        self.users = UserRepository(self.engine)
        self.audit = AuditRepository(self._log_engine)

    def close(self) -> None:
        self.engine.dispose()
        self._log_engine.dispose()
