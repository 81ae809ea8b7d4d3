"""`kb demo-data` through the CLI entry point: it refuses a store that has tickets unless --yes, cleanly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kb.cli.main import app
from tests.conftest import STARTER_ARTICLES


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> CliRunner:
    monkeypatch.setenv("KB_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("KB_ARTICLES_DIR", str(STARTER_ARTICLES))
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.setattr("kb.indexing.load_embedder", _no_model)
    return CliRunner()


def _no_model(_settings: object) -> None:
    raise AssertionError("this command must not load the model")


def test_demo_data_refuses_a_store_with_tickets_unless_yes(runner: CliRunner) -> None:
    assert runner.invoke(app, ["demo-data", "--tickets", "50", "--days", "5"]).exit_code == 0

    refused = runner.invoke(app, ["demo-data", "--tickets", "50", "--days", "5"])
    assert refused.exit_code == 1
    assert "--yes" in refused.output
    assert "Traceback" not in refused.output

    added = runner.invoke(app, ["demo-data", "--tickets", "50", "--days", "5", "--yes", "--seed", "8"])
    assert added.exit_code == 0, added.output
    report = json.loads(runner.invoke(app, ["report", "--json", "--from", "2000-01-01"]).stdout)
    assert report["tickets_created"] == 100
