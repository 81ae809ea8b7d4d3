"""The `kb` command line: JSON output, clean failures (a message and an exit code, never a traceback).

In-process runs share the session's model: `kb.indexing.load_embedder` is pointed at the already loaded
embedder (the real one), so no test loads the model a second time.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.connections import HeaderDeadlineProtocol
from indexer.embedders import Embedder
from kb.cli.main import app, uvicorn_options
from kb.settings import Settings

# `kb search` output names the article MiniLM ranks first.
pytestmark = [pytest.mark.real_model, pytest.mark.both_stores]

BROKEN = "---\ntitle: Broken\n  team: IT\n---\n\n## Symptoms\nSomething.\n"


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch, embedder: Embedder) -> CliRunner:
    monkeypatch.setattr("kb.indexing.load_embedder", lambda _settings: embedder)
    monkeypatch.setenv("COLUMNS", "200")
    return CliRunner()


def _use(monkeypatch: pytest.MonkeyPatch, settings: Settings) -> None:
    monkeypatch.setenv("KB_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("KB_ARTICLES_DIR", str(settings.articles_dir))


@pytest.mark.usefixtures("starter_kb")
def test_search_json_prints_the_outcome(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch, starter_settings: Settings
) -> None:
    _use(monkeypatch, starter_settings)

    result = runner.invoke(app, ["search", "the printer on my floor says it is offline", "--json", "--limit", "3"])

    assert result.exit_code == 0, result.output
    outcome = json.loads(result.stdout)
    assert outcome["answered"] is True
    assert outcome["query"] == "the printer on my floor says it is offline"
    assert 1 <= len(outcome["hits"]) <= 3
    assert outcome["hits"][0]["article_id"] == "printer-offline-floor-printer"
    assert {"article_id", "title", "team", "section", "snippet", "score"} <= set(outcome["hits"][0])
    assert outcome["ticket"] is None


@pytest.mark.usefixtures("starter_kb")
def test_search_json_offers_a_ticket_for_nonsense(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch, starter_settings: Settings
) -> None:
    _use(monkeypatch, starter_settings)

    result = runner.invoke(app, ["search", "purple elephant banana recipe", "--json"])

    assert result.exit_code == 0, result.output
    outcome = json.loads(result.stdout)
    assert outcome["answered"] is False
    assert outcome["ticket"]["subject"] == "purple elephant banana recipe"


@pytest.mark.usefixtures("starter_kb")
def test_search_table_names_the_article(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch, starter_settings: Settings
) -> None:
    _use(monkeypatch, starter_settings)

    result = runner.invoke(app, ["search", "my badge doesn't open the office door anymore"])

    assert result.exit_code == 0, result.output
    assert "badge-not-opening-doors" in result.stdout
    assert "answered" in result.stdout


@pytest.mark.usefixtures("starter_kb")
@pytest.mark.parametrize("question", ["", "   "])
def test_empty_search_fails_with_a_message(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch, starter_settings: Settings, question: str
) -> None:
    _use(monkeypatch, starter_settings)

    result = runner.invoke(app, ["search", question])

    assert result.exit_code != 0
    assert "query is empty" in result.stderr
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


@pytest.mark.usefixtures("starter_kb")
def test_search_limit_out_of_range_fails_with_a_message(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch, starter_settings: Settings
) -> None:
    _use(monkeypatch, starter_settings)

    result = runner.invoke(app, ["search", "printer", "--limit", "0"])

    assert result.exit_code != 0
    assert "limit" in result.stderr
    assert "Traceback" not in result.output


def test_index_skips_invalid_articles_and_says_which(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch, indexed_small_settings: Settings, small_articles: Path
) -> None:
    (small_articles / "broken.md").write_text(BROKEN, encoding="utf-8")
    _use(monkeypatch, indexed_small_settings)

    result = runner.invoke(app, ["index"])

    assert result.exit_code == 0, result.output
    assert "skipped" in result.stderr
    assert "broken.md" in result.stderr
    assert "Indexed 4 articles" in result.stdout
    assert "1 skipped" in result.stdout
    assert "already up to date" in result.stdout


def test_index_strict_fails_naming_the_file(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch, small_settings: Settings, small_articles: Path
) -> None:
    (small_articles / "broken.md").write_text(BROKEN, encoding="utf-8")
    _use(monkeypatch, small_settings)

    result = runner.invoke(app, ["index", "--strict"])

    assert result.exit_code == 1
    assert "broken.md" in result.stderr
    assert "invalid YAML" in result.stderr
    assert "Traceback" not in result.output
    assert not (small_settings.index_dir / "CURRENT").exists()


MISSPELT_AUDIENCE = (
    "---\nid: salary-bands\ntitle: Salary bands for 2027\nteam: HR\nAudience: [hr]\n---\n\n"
    "## Resolution\nThe bands are in the HR drive.\n"
)


@pytest.mark.parametrize("key", ["Audience", "audiences", "groups"])
def test_an_unknown_front_matter_key_is_reported_and_fatal_under_strict(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch, small_settings: Settings, small_articles: Path, key: str
) -> None:
    """A misspelt `audience` would publish a restricted article to everyone without a word."""
    (small_articles / "salary-bands.md").write_text(MISSPELT_AUDIENCE.replace("Audience", key), encoding="utf-8")
    _use(monkeypatch, small_settings)

    strict = runner.invoke(app, ["index", "--strict"])
    assert strict.exit_code == 1
    assert f"salary-bands.md:5: unknown front matter key `{key}`" in strict.stderr
    assert "Traceback" not in strict.output
    assert not (small_settings.index_dir / "CURRENT").exists()

    lenient = runner.invoke(app, ["index"])
    assert lenient.exit_code == 0, lenient.output
    assert f"warning salary-bands.md:5: unknown front matter key `{key}`" in " ".join(lenient.stderr.split())
    if key != "groups":
        assert "did you mean `audience`?" in lenient.stderr


def test_index_of_a_missing_folder_fails_with_a_message(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(app, ["index", str(tmp_path / "nowhere")])

    assert result.exit_code != 0
    assert "not a folder" in result.stderr
    assert "Traceback" not in result.output


def test_real_kb_index_strict_process_exits_non_zero_without_traceback(
    small_settings: Settings, small_articles: Path
) -> None:
    (small_articles / "broken.md").write_text(BROKEN, encoding="utf-8")
    env = {
        **os.environ,
        "KB_DATA_DIR": str(small_settings.data_dir),
        "KB_ARTICLES_DIR": str(small_articles),
        "HF_HUB_OFFLINE": "1",
        "COLUMNS": "200",
    }

    done = subprocess.run(
        [str(Path(sys.executable).parent / "kb"), "index", "--strict"],
        env=env,
        cwd=small_articles.parent,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert done.returncode == 1
    assert "broken.md" in done.stderr
    assert "error:" in done.stderr
    assert "Traceback" not in done.stderr + done.stdout


def test_serve_bounds_how_long_and_how_many_connections_clients_hold() -> None:
    """`kb serve` hands uvicorn the keep-alive timeout, the connection cap, and the protocol that also times a new
    connection's idle wait and a request's headers (uvicorn's own h11 protocol held both for ever)."""
    settings = Settings(keep_alive_seconds=3, header_timeout_seconds=7, max_connections=40)

    options = uvicorn_options(settings)

    assert options["timeout_keep_alive"] == 3
    assert options["limit_concurrency"] == 40
    protocol = options["http"]
    assert protocol.func is HeaderDeadlineProtocol
    assert protocol.keywords == {"header_timeout": 7}
    defaults = uvicorn_options(Settings())
    assert (defaults["timeout_keep_alive"], defaults["limit_concurrency"]) == (5, 500)
    assert defaults["http"].keywords == {"header_timeout": 10}
