"""Shared fixtures: one real model per session, the starter KB indexed once, fresh small KBs per test."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from indexer.embedders.sentence_transformer import SentenceTransformerEmbedder
from kb.service import KnowledgeBase
from kb.settings import Settings

os.environ.setdefault("HF_HUB_OFFLINE", "1")

REPO = Path(__file__).resolve().parent.parent
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


@pytest.fixture(scope="session")
def embedder() -> SentenceTransformerEmbedder:
    """The real bundled all-MiniLM-L6-v2, loaded once for the whole session."""
    return SentenceTransformerEmbedder()


@pytest.fixture(scope="session")
def starter_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    # A copy: the API can write into the articles folder (draft articles from tickets), never into the repo's.
    articles = tmp_path_factory.mktemp("starter-articles") / "articles"
    shutil.copytree(STARTER_ARTICLES, articles)
    return Settings(
        data_dir=tmp_path_factory.mktemp("starter-data"),
        articles_dir=articles,
        trusted_clients=TRUSTED,
        rate_limit_per_minute=0,
    )


@pytest.fixture(scope="session")
def starter_kb(starter_settings: Settings, embedder: SentenceTransformerEmbedder) -> Iterator[KnowledgeBase]:
    """The bundled starter KB, indexed once; tests must not change it."""
    kb = KnowledgeBase(starter_settings, embedder=embedder)
    kb.index()
    yield kb
    kb.close()


@pytest.fixture(scope="session")
def client(starter_kb: KnowledgeBase, embedder: SentenceTransformerEmbedder) -> Iterator[TestClient]:
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
def small_kb(small_settings: Settings, embedder: SentenceTransformerEmbedder) -> Iterator[KnowledgeBase]:
    kb = KnowledgeBase(small_settings, embedder=embedder)
    yield kb
    kb.close()


@pytest.fixture(scope="session")
def small_index_template(tmp_path_factory: pytest.TempPathFactory, embedder: SentenceTransformerEmbedder) -> Path:
    """A data dir (index + SQLite) for the `small_articles` set, built once; copy it, never change it."""
    root = tmp_path_factory.mktemp("small-template")
    articles = copy_small_articles(root / "articles")
    kb = KnowledgeBase(
        Settings(data_dir=root / "data", articles_dir=articles, trusted_clients=TRUSTED, rate_limit_per_minute=0),
        embedder=embedder,
    )
    kb.index()
    kb.close()
    return root / "data"


@pytest.fixture
def indexed_small_settings(small_settings: Settings, small_index_template: Path) -> Settings:
    """`small_settings` whose data dir already holds the index of the unchanged `small_articles` (no embedding)."""
    shutil.copytree(small_index_template, small_settings.data_dir)
    return small_settings


@pytest.fixture
def indexed_small_kb(
    indexed_small_settings: Settings, embedder: SentenceTransformerEmbedder
) -> Iterator[KnowledgeBase]:
    """A KnowledgeBase over a private, already indexed copy of `small_articles`: edit, re-index, search."""
    kb = KnowledgeBase(indexed_small_settings, embedder=embedder)
    yield kb
    kb.close()


def stable_ticket(ticket: dict[str, Any]) -> dict[str, Any]:
    """A ticket as JSON without what moves with the clock or the view (SLA usage, the detail's history)."""
    return {k: v for k, v in ticket.items() if k not in ("sla", "events")}
