"""`kb demo-data` and `kb report` through the CLI entry point: a generated history, the report as JSON and as
tables, clean failures, and neither command loading the model."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kb.cli.main import app
from tests.conftest import STARTER_ARTICLES

pytestmark = pytest.mark.both_stores


def test_demo_data_then_report_json(store_only_cli: CliRunner) -> None:
    made = store_only_cli.invoke(app, ["demo-data", "--tickets", "400", "--days", "20", "--seed", "3"])
    assert made.exit_code == 0, made.output
    assert "Added 400 tickets" in made.stdout

    result = store_only_cli.invoke(app, ["report", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["teams"] is None
    assert report["tickets_created"] > 300  # the last 30 days cover the 20 generated ones
    assert sum(map(sum, report["busiest_hours"]["counts"])) == report["tickets_created"]
    assert set(report["sla"]) == {"low", "normal", "high", "urgent", "all"}
    assert report["searches"]["count"] > 0 and report["knowledge_gaps"]

    hr = json.loads(store_only_cli.invoke(app, ["report", "--json", "--team", "hr", "--from", "2000-01-01"]).stdout)
    assert hr["teams"] == ["HR"]
    assert 0 < hr["tickets_created"] < report["tickets_created"]


def test_report_tables(store_only_cli: CliRunner) -> None:
    assert store_only_cli.invoke(app, ["demo-data", "--tickets", "200", "--days", "10"]).exit_code == 0

    result = store_only_cli.invoke(app, ["report", "--team", "IT"])

    assert result.exit_code == 0, result.output
    for heading in ("Service metrics", "SLA attainment", "Backlog", "Europe/Lisbon", "Knowledge gaps", "Mon", "Sun"):
        assert heading in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--from", "yesterday"], "`from` must be an ISO 8601 date"),
        (["--from", "2026-10-02", "--to", "2026-10-01"], "`from` must be before `to`"),
        (["--team", "Legal"], "unknown team"),
    ],
)
def test_report_fails_with_a_message(store_only_cli: CliRunner, args: list[str], message: str) -> None:
    result = store_only_cli.invoke(app, ["report", *args])

    assert result.exit_code == 1
    assert message in result.output
    assert "Traceback" not in result.output


def test_neither_command_loads_the_model(tmp_path: Path) -> None:
    """In a fresh process: after demo-data and report, neither torch nor sentence-transformers was imported."""
    script = (
        "import sys\n"
        "from kb.cli.main import app\n"
        "for args in (['demo-data', '--tickets', '300'], ['report', '--json']):\n"
        "    app(args, standalone_mode=False)\n"
        "loaded = sorted(m for m in ('torch', 'sentence_transformers', 'transformers') if m in sys.modules)\n"
        "print('MODULES', loaded)\n"
    )
    env = {
        **os.environ,
        "KB_DATA_DIR": str(tmp_path / "data"),
        "KB_ARTICLES_DIR": str(STARTER_ARTICLES),
        "HF_HUB_OFFLINE": "1",
    }
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300)

    assert done.returncode == 0, done.stderr
    assert "MODULES []" in done.stdout
