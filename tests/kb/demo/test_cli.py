"""`kb demo-data` through the CLI entry point: it refuses a store that has tickets unless --yes, cleanly."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from kb.cli.main import app

pytestmark = pytest.mark.both_stores


def test_demo_data_refuses_a_store_with_tickets_unless_yes(store_only_cli: CliRunner) -> None:
    assert store_only_cli.invoke(app, ["demo-data", "--tickets", "50", "--days", "5"]).exit_code == 0

    refused = store_only_cli.invoke(app, ["demo-data", "--tickets", "50", "--days", "5"])
    assert refused.exit_code == 1
    assert "--yes" in refused.output
    assert "Traceback" not in refused.output

    added = store_only_cli.invoke(app, ["demo-data", "--tickets", "50", "--days", "5", "--yes", "--seed", "8"])
    assert added.exit_code == 0, added.output
    report = json.loads(store_only_cli.invoke(app, ["report", "--json", "--from", "2000-01-01"]).stdout)
    assert report["tickets_created"] == 100
