"""Alembic's entry point: configures the migration context and runs the revisions in versions/.

kb.store.migrate runs it with a connection it has already opened and locked (`config.attributes["connection"]`),
so two processes starting at once never migrate the same store twice. Run by hand (`alembic -c FILE` with
`script_location = kb.store:migrations`, e.g. for `alembic revision --autogenerate`), it opens
`sqlalchemy.url`, or KB_DATABASE_URL / the default store when that is unset.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context

from kb.store import schema

config = context.config
target_metadata: sa.MetaData = config.attributes.get("target_metadata", schema.metadata)


def run_migrations(connection: sa.Connection) -> None:
    # Batch mode: SQLite cannot ALTER a column or constraint in place, so such changes copy the table instead;
    # on PostgreSQL the same revision alters in place.
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    # The baseline looks at the store to adopt one created before migrations: it needs a live connection.
    raise SystemExit("kb's migrations run online only (no --sql)")

_given = config.attributes.get("connection")
if _given is not None:
    run_migrations(_given)
else:
    from kb.settings import Settings

    _engine = sa.create_engine(config.get_main_option("sqlalchemy.url") or Settings().resolved_database_url)
    try:
        with _engine.begin() as _connection:
            run_migrations(_connection)
    finally:
        _engine.dispose()
