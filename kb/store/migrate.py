"""Bring a store's schema to the newest Alembic revision (kb/store/migrations), at every start and by `kb db upgrade`.

A store created before migrations (its tables, no alembic_version) is adopted by the baseline revision, which
adds what the old additive migrate would have added and records itself: nothing in the store is rewritten.
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).with_name("migrations")
# Any constant: PostgreSQL's advisory lock that serialises servers migrating one database at the same time.
_POSTGRES_LOCK_KEY = 0x6B62_6462  # "kbdb"


def alembic_config(connection: sa.Connection | None = None, metadata: sa.MetaData | None = None) -> Config:
    """Alembic's configuration, built in code (no alembic.ini at run time); env.py runs on `connection`."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        config.attributes["connection"] = connection
    if metadata is not None:
        config.attributes["target_metadata"] = metadata
    return config


@functools.cache
def head_revision() -> str:
    """The newest revision shipped with this kb (read once per process: the files do not change under it)."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:  # pragma: no cover - the baseline always ships
        raise RuntimeError(f"no migration in {MIGRATIONS}")
    return head


def current_revision(engine: Engine) -> str | None:
    """The revision the store is at; None for an empty database or a store created before migrations."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def predates_migrations(connection: sa.Connection) -> bool:
    """A store created by kb before Alembic: its tables are there, Alembic's version table is not."""
    tables = set(sa.inspect(connection).get_table_names())
    return "articles" in tables and "alembic_version" not in tables


def migrate(engine: Engine, metadata: sa.MetaData) -> None:
    """Upgrade the store to the head revision; `metadata` (kb.store.schema's) is what autogenerate compares with."""
    if current_revision(engine) == head_revision():
        return  # the usual start: one small read
    with engine.begin() as connection:
        _lock_for_migration(connection)
        # Read again under the lock: another process that started at the same time may have upgraded meanwhile.
        if MigrationContext.configure(connection).get_current_revision() == head_revision():
            return
        if predates_migrations(connection):
            log.info("adopting a store created before schema migrations into revision history")
        command.upgrade(alembic_config(connection, metadata), "head")


def _lock_for_migration(connection: sa.Connection) -> None:
    """Hold the database's write lock for the whole upgrade, so two processes never run the same revision."""
    if connection.dialect.name == "sqlite":
        # Before any read: a DEFERRED transaction would read, then fail to take the lock another process holds.
        connection.exec_driver_sql("BEGIN IMMEDIATE")
    elif connection.dialect.name == "postgresql":
        connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _POSTGRES_LOCK_KEY})
