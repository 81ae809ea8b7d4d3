"""Shared fixtures: one real model per session, the starter KB indexed once, fresh small KBs per test.

`embedder` is the deterministic `HashingEmbedder` unless the test module is marked `real_model`
(`pytestmark = pytest.mark.real_model`): only tests whose assertions depend on real ranking or answers pay for
MiniLM. Every KB fixture (starter or small) is indexed with the module's `embedder`, so `-m "not real_model"` selects
exactly the tests that never load the model."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from indexer.embedders import Embedder
from kb.indexing import load_embedder
from kb.service import KnowledgeBase
from kb.settings import Settings
from tests.fakes import HashingEmbedder

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


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


REAL_MODEL = "real_model"


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
def starter_kbs() -> Iterator[dict[str, KnowledgeBase]]:
    """The starter KB by embedder name (the fake's and the real model's indexes differ), closed after the session."""
    kbs: dict[str, KnowledgeBase] = {}
    yield kbs
    for kb in kbs.values():
        kb.close()


@pytest.fixture(scope="module")
def starter_kb(
    tmp_path_factory: pytest.TempPathFactory, starter_kbs: dict[str, KnowledgeBase], embedder: Embedder
) -> KnowledgeBase:
    """The bundled starter KB, indexed once per session and embedder (the module's); tests must not change it."""
    if embedder.name not in starter_kbs:
        # A copy: the API can write into the articles folder (draft articles from tickets), never into the repo's.
        articles = tmp_path_factory.mktemp("starter-articles") / "articles"
        shutil.copytree(STARTER_ARTICLES, articles)
        settings = Settings(
            data_dir=tmp_path_factory.mktemp("starter-data"),
            articles_dir=articles,
            trusted_clients=TRUSTED,
            rate_limit_per_minute=0,
        )
        kb = KnowledgeBase(settings, embedder=embedder)
        starter_kbs[embedder.name] = kb
        kb.indexing.build()
    return starter_kbs[embedder.name]


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
def small_settings(tmp_path: Path, small_articles: Path) -> Settings:
    return Settings(
        data_dir=tmp_path / "data", articles_dir=small_articles, trusted_clients=TRUSTED, rate_limit_per_minute=0
    )


@pytest.fixture
def small_kb(small_settings: Settings, embedder: Embedder) -> Iterator[KnowledgeBase]:
    kb = KnowledgeBase(small_settings, embedder=embedder)
    yield kb
    kb.close()


@pytest.fixture(scope="session")
def small_index_templates() -> dict[str, Path]:
    """Built `small_articles` data dirs by embedder name: the fake's and the real model's indexes differ."""
    return {}


@pytest.fixture(scope="module")
def small_index_template(
    tmp_path_factory: pytest.TempPathFactory, small_index_templates: dict[str, Path], embedder: Embedder
) -> Path:
    """A data dir (index + SQLite) for the `small_articles` set, built once per embedder; copy it, never change it."""
    if embedder.name not in small_index_templates:
        root = tmp_path_factory.mktemp("small-template")
        articles = copy_small_articles(root / "articles")
        kb = KnowledgeBase(
            Settings(data_dir=root / "data", articles_dir=articles, trusted_clients=TRUSTED, rate_limit_per_minute=0),
            embedder=embedder,
        )
        kb.indexing.build()
        kb.close()
        small_index_templates[embedder.name] = root / "data"
    return small_index_templates[embedder.name]


@pytest.fixture
def indexed_small_settings(small_settings: Settings, small_index_template: Path) -> Settings:
    """`small_settings` whose data dir already holds the index of the unchanged `small_articles` (no embedding)."""
    shutil.copytree(small_index_template, small_settings.data_dir)
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


def desk_settings(root: Path, template: Path, **overrides: Any) -> Settings:
    """Settings over a private copy of the indexed `small_articles` KB (`template`) in `root`: token auth, no rate
    limits unless `overrides` say otherwise."""
    articles = copy_small_articles(root / "articles")
    shutil.copytree(template, root / "data")
    values: dict[str, Any] = {
        "data_dir": root / "data",
        "articles_dir": articles,
        "trusted_clients": TRUSTED,
        "rate_limit_per_minute": 0,
        "auth": "token",
    }
    return Settings(**(values | overrides))


def add_desk(kb: KnowledgeBase) -> dict[str, str]:
    """The DESK's users in `kb`, and their tokens by name."""
    tokens = {}
    for name, role, groups, teams in DESK:
        _, tokens[name] = kb.users.add(name, email=f"{name}@example.com", role=role, groups=groups, teams=teams)
    return tokens


def stable_ticket(ticket: dict[str, Any]) -> dict[str, Any]:
    """A ticket as JSON without what moves with the clock or the view (SLA usage, the detail's history)."""
    return {k: v for k, v in ticket.items() if k not in ("sla", "events")}
