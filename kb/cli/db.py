"""`kb db`: the store's schema revision (Alembic): bring it to the newest one, or show where it stands."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
import typer

from kb.cli.common import console, domain_errors, fail, load_settings
from kb.store import Store
from kb.store.faults import translate_storage_faults
from kb.store.migrate import current_revision, head_revision

app = typer.Typer(help="The store's schema: upgrade it, show its revision.", no_args_is_help=True)


@app.command("upgrade")
def upgrade() -> None:
    """Bring the store's schema to the newest revision (every command that opens the store does it too)."""
    url = load_settings().resolved_database_url
    with domain_errors(), unreachable_store(url):
        store = Store(url)  # opening the store upgrades it
        try:
            revision = current_revision(store.engine)
        finally:
            store.close()
    console.print(f"Store at revision {revision} (head).", highlight=False)


@app.command("current")
def current() -> None:
    """Print the store's schema revision and whether it is the newest (changes nothing)."""
    url = load_settings().resolved_database_url
    head = head_revision()
    with domain_errors(), unreachable_store(url):
        engine = sa.create_engine(url)
        translate_storage_faults(engine)
        try:
            database = engine.url.database
            if engine.dialect.name == "sqlite" and database and not Path(database).exists():
                # Connecting would create an empty file: `current` only reads.
                console.print(f"none: no store at {database} yet (`kb db upgrade` creates it at {head}, the head)")
                return
            revision = current_revision(engine)
        finally:
            engine.dispose()
    if revision == head:
        console.print(f"{revision} (head)", highlight=False)
    elif revision is None:
        console.print(f"none: not under migrations yet; `kb db upgrade` brings it to {head} (head)", highlight=False)
    else:
        console.print(f"{revision}, not the head ({head}): run `kb db upgrade`", highlight=False)


@contextmanager
def unreachable_store(url: str) -> Iterator[None]:
    """A store that cannot be opened at all (no such folder, no server, no driver, a bad URL) as one line."""
    try:
        yield
    except OSError as exc:  # its folder cannot be created
        raise fail(f"cannot open the store {_shown(url)}: {exc.strerror or exc} ({exc.filename})") from exc
    except (ImportError, sa.exc.SQLAlchemyError) as exc:
        original = getattr(exc, "orig", None) or exc
        reason = str(original).splitlines()[0] if str(original) else type(original).__name__
        raise fail(f"cannot open the store {_shown(url)}: {reason}") from exc


def _shown(url: str) -> str:
    """`url` without its password, to print."""
    try:
        return sa.make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return "(unparsable KB_DATABASE_URL)"
