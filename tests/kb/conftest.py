"""Fixtures shared by the tests of the store-only commands (`kb report`, `kb demo-data`)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.conftest import STARTER_ARTICLES


def _no_model(_settings: object) -> None:
    raise AssertionError("this command must not load the model")


@pytest.fixture
def store_only_cli(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> CliRunner:
    """A CLI runner over a fresh data dir and the starter articles, failing the test if the model is loaded."""
    monkeypatch.setenv("KB_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("KB_ARTICLES_DIR", str(STARTER_ARTICLES))
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.setattr("kb.indexing.load_embedder", _no_model)
    return CliRunner()
