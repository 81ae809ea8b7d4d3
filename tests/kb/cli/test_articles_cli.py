"""`kb import`, `kb export` and `kb publish`: files in and out of the store, where articles live."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kb.cli.main import app
from tests.conftest import STARTER_ARTICLES
from tests.fakes import HashingEmbedder

pytestmark = pytest.mark.both_stores


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> CliRunner:
    monkeypatch.setattr("kb.indexing.load_embedder", lambda _settings: HashingEmbedder())
    monkeypatch.setenv("KB_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("KB_ARTICLES_DIR", str(tmp_path / "none"))  # no folder: the store is the only source
    monkeypatch.setenv("KB_TEAMS_FILE", str(STARTER_ARTICLES / "teams.yaml"))
    monkeypatch.setenv("KB_MULTILINGUAL", "false")
    monkeypatch.setenv("COLUMNS", "200")
    return CliRunner()


def _files(folder: Path) -> dict[str, bytes]:
    return {
        path.relative_to(folder).as_posix(): path.read_bytes()
        for path in sorted(folder.rglob("*.md"))
        if path.name.lower() != "readme.md"
    }


def test_export_then_import_round_trips_the_starter_kb_byte_for_byte(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    imported = runner.invoke(app, ["import", str(STARTER_ARTICLES)])
    assert imported.exit_code == 0, imported.output
    assert "66 new" in imported.stdout

    again = runner.invoke(app, ["import", str(STARTER_ARTICLES)])
    assert again.exit_code == 0, again.output
    assert "0 new, 0 updated, 66 unchanged" in again.stdout  # idempotent by content

    first = tmp_path / "first"
    exported = runner.invoke(app, ["export", str(first)])
    assert exported.exit_code == 0, exported.output
    assert _files(first) == _files(STARTER_ARTICLES)

    # Into a new store, and out again: the same bytes.
    monkeypatch.setenv("KB_DATA_DIR", str(tmp_path / "other-data"))
    assert runner.invoke(app, ["import", str(first)]).exit_code == 0
    second = tmp_path / "second"
    assert runner.invoke(app, ["export", str(second)]).exit_code == 0
    assert _files(second) == _files(first)


VALID = (
    "---\nid: dock-no-picture\ntitle: Docking station shows no picture\nteam: IT\n---\n\n"
    "## Symptoms\n\nThe monitors stay black when the quuxdock is connected.\n\n"
    "## Resolution\n\nRun the quuxdock updater from the Software Center.\n"
)


def test_publish_validates_every_file_first_then_publishes_them_searchable(runner: CliRunner, tmp_path: Path) -> None:
    good = tmp_path / "dock.md"
    good.write_text(VALID, encoding="utf-8")
    bad = tmp_path / "bad.md"
    bad.write_text("---\ntitle: No fix here\nteam: IT\n---\n\n## Symptoms\n\nBroken.\n", encoding="utf-8")

    refused = runner.invoke(app, ["publish", str(good), str(bad)])
    assert refused.exit_code == 1
    assert "bad.md" in refused.output and "Resolution" in refused.output
    assert "nothing was published" in refused.output
    assert "Traceback" not in refused.output

    published = runner.invoke(app, ["publish", str(good)])
    assert published.exit_code == 0, published.output
    assert "Published 1 article(s)" in published.stdout
    found = runner.invoke(app, ["search", "quuxdock monitors stay black", "--json"])
    assert found.exit_code == 0, found.output
    assert json.loads(found.stdout)["hits"][0]["article_id"] == "dock-no-picture"

    unchanged = runner.invoke(app, ["publish", str(good)])
    assert unchanged.exit_code == 0 and "Published 0 article(s), 1 already as published" in unchanged.stdout


def test_publish_refuses_a_file_that_says_it_is_a_draft(runner: CliRunner, tmp_path: Path) -> None:
    draft = tmp_path / "draft.md"
    draft.write_text(VALID.replace("team: IT\n", "team: IT\nstatus: draft\n"), encoding="utf-8")
    result = runner.invoke(app, ["publish", str(draft)])
    assert result.exit_code == 1
    assert "status: draft" in result.output


def test_import_of_a_missing_folder_is_a_clear_error(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(app, ["import", str(tmp_path / "nowhere")])
    assert result.exit_code == 1
    assert "not a folder" in result.output


def test_kb_index_keeps_articles_written_in_kb_and_prunes_only_its_own_files(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    folder = tmp_path / "articles"
    folder.mkdir()
    for name in ("vpn-drops-on-public-wifi.md", "printer-offline-floor-printer.md"):
        shutil.copy(STARTER_ARTICLES / name, folder / name)
    monkeypatch.setenv("KB_ARTICLES_DIR", str(folder))
    assert runner.invoke(app, ["index"]).exit_code == 0
    published = tmp_path / "dock.md"
    published.write_text(VALID, encoding="utf-8")
    assert runner.invoke(app, ["publish", str(published)]).exit_code == 0

    (folder / "printer-offline-floor-printer.md").unlink()
    result = runner.invoke(app, ["index"])
    assert result.exit_code == 0, result.output
    assert "1 removed" in result.stdout
    exported = tmp_path / "out"
    assert runner.invoke(app, ["export", str(exported)]).exit_code == 0
    assert sorted(_files(exported)) == ["dock-no-picture.md", "vpn-drops-on-public-wifi.md"]


def test_a_folder_never_overwrites_an_article_written_in_kb(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    published = tmp_path / "dock.md"
    published.write_text(VALID, encoding="utf-8")
    assert runner.invoke(app, ["publish", str(published)]).exit_code == 0
    folder = tmp_path / "articles"
    folder.mkdir()
    (folder / "dock-no-picture.md").write_text(VALID.replace("quuxdock updater", "other tool"), encoding="utf-8")
    monkeypatch.setenv("KB_ARTICLES_DIR", str(folder))

    indexed = runner.invoke(app, ["index"])
    assert indexed.exit_code == 0, indexed.output
    assert "not imported: 'dock-no-picture'" in indexed.output
    (folder / "dock-no-picture.md").unlink()
    assert runner.invoke(app, ["index"]).exit_code == 0  # the file is gone: the article is not the folder's
    exported = tmp_path / "out"
    assert runner.invoke(app, ["export", str(exported)]).exit_code == 0
    assert (exported / "dock-no-picture.md").read_text(encoding="utf-8") == VALID


def test_importing_an_export_into_the_same_store_saves_nothing(runner: CliRunner, tmp_path: Path) -> None:
    draft = tmp_path / "in" / "draft.md"
    draft.parent.mkdir()
    draft.write_text(VALID.replace("team: IT\n", "team: IT\nstatus: draft\n"), encoding="utf-8")
    assert runner.invoke(app, ["import", str(draft.parent)]).exit_code == 0
    out = tmp_path / "out"
    assert runner.invoke(app, ["export", str(out)]).exit_code == 0
    again = runner.invoke(app, ["import", str(out)])
    assert again.exit_code == 0, again.output
    assert "0 new, 0 updated, 1 unchanged" in again.stdout
