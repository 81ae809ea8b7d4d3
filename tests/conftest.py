"""Shared fixtures: one real model per session, the starter KB indexed once, fresh small KBs per test.

`embedder` is the deterministic `HashingEmbedder` unless the test module is marked `real_model`
(`pytestmark = pytest.mark.real_model`): only tests whose assertions depend on real ranking or answers pay for
MiniLM. Every KB fixture (starter or small) is indexed with the module's `embedder`, so `-m "not real_model"` selects
exactly the tests that never load the model.

The store runs on SQLite by default and on PostgreSQL when several servers share it: in a module marked
`both_stores` (`pytestmark = pytest.mark.both_stores`), every test that reaches the store through `database_url`,
`small_settings` or the fixtures built on them runs twice, `[sqlite]` and `[postgresql]`, the latter on a server
this session starts (bench/postgres.py); a test marked `sqlite_only` (it drives SQLite's own file or locks) stays
on SQLite. Every module that reaches the store is marked, from the repositories to the API, the portal and the CLI,
except where the store is not the subject: the index on disk (tests/indexer), connection handling and overload, the
log format, and the evaluation sets (kb eval); on PostgreSQL, KB_DATABASE_URL names the test's own database."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from api.app import create_app
from bench.postgres import PostgresServer
from indexer.embedders import Embedder
from kb.access import Principal
from kb.indexing import load_embedder
from kb.service import KnowledgeBase
from kb.settings import Settings
from tests.fakes import HashingEmbedder
from tests.postgres import started_server

os.environ.setdefault("HF_HUB_OFFLINE", "1")

REPO = Path(__file__).resolve().parent.parent
# The ONNX graphs exported from the bundled model, once per machine rather than once per test's data folder; the
# servers the tests start inherit it.
os.environ.setdefault("KB_MODEL_CACHE_DIR", str(REPO / ".cache" / "models"))
STARTER_ARTICLES = REPO / "articles"
EVAL_DIR = REPO.parent / "shared" / "eval"
# TestClient calls come from "testclient": trust it like the loopback, as `auth = local` does on a laptop.
TRUSTED = ["127.0.0.1", "::1", "testclient"]
SMALL_ARTICLE_FILES = (
    "teams.yaml",
    "vpn-drops-on-public-wifi.md",
    "printer-offline-floor-printer.md",
    "request-annual-leave.md",
    "badge-not-opening-doors.md",
)


def shared_eval_set(name: str) -> Path:
    """A public retrieval set from ../shared/eval. A clone without ../shared skips the test, saying so; under
    CI=true its absence is a failure, since CI always has it."""
    folder = EVAL_DIR / name
    if not folder.is_dir():
        message = f"{folder} is missing: the public retrieval sets live in ../shared/eval beside the clone"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return folder


def copy_small_articles(folder: Path) -> Path:
    """`folder` filled with a private copy of the `SMALL_ARTICLE_FILES` set (teams file included)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in SMALL_ARTICLE_FILES:
        shutil.copy(STARTER_ARTICLES / name, folder / name)
    return folder


# An agent of IT who writes articles, and another who reviews and publishes them.
WRITER = Principal("ivan", "agent", teams=frozenset({"IT"}))
REVIEWER = Principal("ines", "agent", teams=frozenset({"IT"}))


def publish_gizmo(kb: KnowledgeBase, slug: str) -> None:
    """Write, submit and publish a small IT article whose words (`slug`) no other article has, as the desk does."""
    markdown = (
        f"---\nid: {slug}\ntitle: Gizmo {slug} hums\nteam: IT\n---\n\n## Symptoms\n\nThe {slug} gizmo hums.\n\n"
        f"## Resolution\n\nTighten the {slug} screw.\n"
    )
    kb.publishing.create(markdown, WRITER)
    kb.publishing.transition(slug, "review", WRITER, None)
    kb.publishing.transition(slug, "published", REVIEWER, None)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


REAL_MODEL = "real_model"
BOTH_STORES = "both_stores"
SQLITE_ONLY = "sqlite_only"
Backend = Literal["sqlite", "postgresql"]
BACKENDS: tuple[Backend, ...] = ("sqlite", "postgresql")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--screenshots",
        action="store_true",
        help="Save the portal's main pages under bench/screenshots/ (browser tests).",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", f"{REAL_MODEL}: loads the real MiniLM (assertions depend on its ranking); run by default and in CI"
    )
    config.addinivalue_line(
        "markers",
        f"{BOTH_STORES}: the module's store tests run on SQLite and on PostgreSQL (a server started for the session)",
    )
    config.addinivalue_line(
        "markers", f"{SQLITE_ONLY}: in a `{BOTH_STORES}` module, a test of SQLite itself (its file, its locks)"
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Tests of a `both_stores` module that reach the store run once per backend. Module-scoped parameters, so that
    a module's fixtures built once (a KB, a template) are built once per backend and its tests grouped by it."""
    marked = metafunc.definition.get_closest_marker(BOTH_STORES) is not None
    sqlite_only = metafunc.definition.get_closest_marker(SQLITE_ONLY) is not None
    if marked and not sqlite_only and "database_backend" in metafunc.fixturenames:
        metafunc.parametrize("database_backend", BACKENDS, indirect=True, scope="module")


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A PostgreSQL server for the session, in a temporary folder, stopped and deleted at the end; started on
    first use only, so a run without PostgreSQL tests never pays for it."""
    with started_server() as server:
        yield server


@pytest.fixture(scope="module")
def database_backend(request: pytest.FixtureRequest) -> Backend:
    """The store's backend: the module's parameter in a `both_stores` module, SQLite everywhere else."""
    backend: Backend = getattr(request, "param", "sqlite")
    return backend


@pytest.fixture
def database_url(database_backend: Backend, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """A URL of a store of the test's own: a SQLite file in `tmp_path`, or a PostgreSQL database already at the
    head revision (a copy of the migrated template), dropped after the test."""
    if database_backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'kb.sqlite3'}"
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    name = server.create_database(template=server.migrated_template())
    yield server.url(name)
    server.drop_database(name)


@pytest.fixture(scope="module")
def new_database_url(database_backend: Backend, request: pytest.FixtureRequest) -> Iterator[Callable[[Path], str]]:
    """For module-scoped fixtures: a factory of fresh store URLs on the module's backend (SQLite: a file in the
    folder given; PostgreSQL: a database at the head revision), the databases dropped after the module."""
    if database_backend == "sqlite":
        yield lambda folder: f"sqlite:///{folder / 'kb.sqlite3'}"
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    created: list[str] = []

    def new(_folder: Path) -> str:
        created.append(server.create_database(template=server.migrated_template()))
        return server.url(created[-1])

    yield new
    for name in created:
        server.drop_database(name)


@pytest.fixture(autouse=True)
def backend_in_environment(database_backend: Backend, request: pytest.FixtureRequest) -> None:
    """On PostgreSQL, KB_DATABASE_URL names the test's own database, as an operator's environment would: every
    Settings the test makes, and every server it starts, use that store."""
    if database_backend == "postgresql":
        request.getfixturevalue("monkeypatch").setenv("KB_DATABASE_URL", request.getfixturevalue("database_url"))


@pytest.fixture
def kb_database_url(database_backend: Backend, database_url: str) -> str | None:
    """What a test's Settings take as `database_url` (KB_DATABASE_URL): nothing on SQLite (the default file in the
    data dir, as a user gets it), the test's own database on PostgreSQL."""
    return None if database_backend == "sqlite" else database_url


@pytest.fixture(scope="session")
def real_embedder() -> Embedder:
    """The real bundled all-MiniLM-L6-v2 as the product runs it by default (KB_ENCODER), loaded once per session."""
    return load_embedder(Settings())


@pytest.fixture(scope="module")
def embedder(request: pytest.FixtureRequest) -> Embedder:
    """The real model in a module marked `real_model`, the instant deterministic fake everywhere else.

    Module-scoped, so that a module's own module-scoped fixtures (a KB built once per file) can use it."""
    if request.node.get_closest_marker(REAL_MODEL) is not None:
        real: Embedder = request.getfixturevalue("real_embedder")
        return real
    return HashingEmbedder()


@pytest.fixture(scope="session")
def starter_kbs() -> Iterator[dict[tuple[str, Backend], KnowledgeBase]]:
    """The starter KB by embedder name (the fake's and the real model's indexes differ) and backend, closed after
    the session."""
    kbs: dict[tuple[str, Backend], KnowledgeBase] = {}
    yield kbs
    for kb in kbs.values():
        kb.close()


@pytest.fixture(scope="module")
def starter_kb(
    tmp_path_factory: pytest.TempPathFactory,
    starter_kbs: dict[tuple[str, Backend], KnowledgeBase],
    embedder: Embedder,
    database_backend: Backend,
    request: pytest.FixtureRequest,
) -> KnowledgeBase:
    """The bundled starter KB, indexed once per session, embedder (the module's) and backend; tests must not change
    it."""
    key = (embedder.name, database_backend)
    if key not in starter_kbs:
        # A copy: the API can write into the articles folder (draft articles from tickets), never into the repo's.
        articles = tmp_path_factory.mktemp("starter-articles") / "articles"
        shutil.copytree(STARTER_ARTICLES, articles)
        database_url = None
        if database_backend == "postgresql":  # kept for the session, like the KB itself
            server: PostgresServer = request.getfixturevalue("postgres_server")
            database_url = server.url(server.create_database(template=server.migrated_template()))
        settings = Settings(
            data_dir=tmp_path_factory.mktemp("starter-data"),
            articles_dir=articles,
            database_url=database_url,
            trusted_clients=TRUSTED,
            rate_limit_per_minute=0,
        )
        kb = KnowledgeBase(settings, embedder=embedder)
        starter_kbs[key] = kb
        kb.indexing.build()
    return starter_kbs[key]


@pytest.fixture(scope="module")
def starter_settings(starter_kb: KnowledgeBase) -> Settings:
    return starter_kb.settings


@pytest.fixture(scope="module")
def client(starter_kb: KnowledgeBase, embedder: Embedder) -> Iterator[TestClient]:
    """The API over the starter KB (the index is already built by `starter_kb`)."""
    with TestClient(create_app(starter_kb.settings, embedder=embedder)) as test_client:
        yield test_client


@pytest.fixture
def small_articles(tmp_path: Path) -> Path:
    """A private copy of a few starter articles plus the teams file, safe to edit."""
    return copy_small_articles(tmp_path / "articles")


@pytest.fixture
def small_settings(tmp_path: Path, small_articles: Path, kb_database_url: str | None) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        articles_dir=small_articles,
        database_url=kb_database_url,
        trusted_clients=TRUSTED,
        rate_limit_per_minute=0,
    )


@pytest.fixture
def small_kb(small_settings: Settings, embedder: Embedder) -> Iterator[KnowledgeBase]:
    kb = KnowledgeBase(small_settings, embedder=embedder)
    yield kb
    kb.close()


@dataclass(frozen=True)
class SmallTemplate:
    """The `small_articles` KB built once: its data dir (index, and the SQLite store on SQLite) and, on
    PostgreSQL, the database its store is in."""

    data_dir: Path
    database: str | None
    server: PostgresServer | None

    def copy_to(self, settings: Settings) -> None:
        """`settings`' data dir made a copy of the template's and, on PostgreSQL, the database they name replaced by
        a copy of the template's."""
        shutil.copytree(self.data_dir, settings.data_dir)
        if self.server is not None and self.database is not None:
            url = sa.make_url(settings.resolved_database_url)
            assert url.get_backend_name() == "postgresql", "a PostgreSQL template needs a PostgreSQL store"
            self.server.replace_database(str(url.database), self.database)


@pytest.fixture(scope="session")
def small_templates() -> dict[tuple[str, Backend], SmallTemplate]:
    """Built `small_articles` KBs by embedder name and backend: the fake's and the real model's indexes differ."""
    return {}


@pytest.fixture(scope="module")
def small_template(
    tmp_path_factory: pytest.TempPathFactory,
    small_templates: dict[tuple[str, Backend], SmallTemplate],
    embedder: Embedder,
    database_backend: Backend,
    request: pytest.FixtureRequest,
) -> SmallTemplate:
    """The `small_articles` KB, built once per embedder and backend; copy it, never change it."""
    key = (embedder.name, database_backend)
    if key not in small_templates:
        root = tmp_path_factory.mktemp("small-template")
        articles = copy_small_articles(root / "articles")
        database, url, server = None, None, None
        if database_backend == "postgresql":
            server = request.getfixturevalue("postgres_server")
            database = server.create_database(template=server.migrated_template())
            url = server.url(database)
        settings = Settings(
            data_dir=root / "data",
            articles_dir=articles,
            database_url=url,
            trusted_clients=TRUSTED,
            rate_limit_per_minute=0,
        )
        kb = KnowledgeBase(settings, embedder=embedder)
        kb.indexing.build()
        kb.close()
        small_templates[key] = SmallTemplate(root / "data", database, server)
    return small_templates[key]


@pytest.fixture(scope="module")
def small_index_template(small_template: SmallTemplate) -> Path:
    """A data dir (index + SQLite) for the `small_articles` set, built once per embedder; copy it, never change it.
    (On PostgreSQL the store is not in it: use `indexed_small_settings`.)"""
    return small_template.data_dir


@pytest.fixture
def indexed_small_settings(small_settings: Settings, small_template: SmallTemplate) -> Settings:
    """`small_settings` whose data dir already holds the index of the unchanged `small_articles` (no embedding),
    and whose store holds their rows (on PostgreSQL: the test's database replaced by a copy of the template's)."""
    small_template.copy_to(small_settings)
    return small_settings


@pytest.fixture
def indexed_small_kb(indexed_small_settings: Settings, embedder: Embedder) -> Iterator[KnowledgeBase]:
    """A KnowledgeBase over a private, already indexed copy of `small_articles`: edit, re-index, search."""
    kb = KnowledgeBase(indexed_small_settings, embedder=embedder)
    yield kb
    kb.close()


# A small help desk: readers in no group and in finance, two IT agents (one writes, the other reviews), an admin.
DESK = (
    ("ana", "employee", (), ()),
    ("fred", "employee", ("finance",), ()),
    ("ivan", "agent", (), ("IT",)),
    ("ines", "agent", (), ("IT",)),
    ("adam", "admin", (), ()),
)


def desk_settings(root: Path, template: SmallTemplate, **overrides: Any) -> Settings:
    """Settings over a private copy of the indexed `small_articles` KB (`template`) in `root`, its store the one
    the environment names (KB_DATABASE_URL: the test's own on PostgreSQL): token auth, no rate limits unless
    `overrides` say otherwise."""
    articles = copy_small_articles(root / "articles")
    values: dict[str, Any] = {
        "data_dir": root / "data",
        "articles_dir": articles,
        "trusted_clients": TRUSTED,
        "rate_limit_per_minute": 0,
        "auth": "token",
    }
    settings = Settings(**(values | overrides))
    template.copy_to(settings)
    return settings


@pytest.fixture(scope="module")
def module_desk_settings(
    tmp_path_factory: pytest.TempPathFactory, small_template: SmallTemplate, new_database_url: Callable[[Path], str]
) -> Callable[..., Settings]:
    """For module-scoped fixtures: `desk_settings` in a new folder named `name`, on a store of the module's backend
    of its own (the environment's is the test's)."""

    def settings(name: str, **overrides: Any) -> Settings:
        root = tmp_path_factory.mktemp(name)
        return desk_settings(root, small_template, database_url=new_database_url(root / "data"), **overrides)

    return settings


def add_desk(kb: KnowledgeBase) -> dict[str, str]:
    """The DESK's users in `kb`, and their tokens by name."""
    tokens = {}
    for name, role, groups, teams in DESK:
        _, tokens[name] = kb.users.add(name, email=f"{name}@example.com", role=role, groups=groups, teams=teams)
    return tokens


def stable_ticket(ticket: dict[str, Any]) -> dict[str, Any]:
    """A ticket as JSON without what moves with the clock or the view (SLA usage, the detail's history)."""
    return {k: v for k, v in ticket.items() if k not in ("sla", "events")}
