"""`kb import`, `kb export` and `kb publish`: articles between files and the store, where they live."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from kb.access import LOCAL_ADMIN
from kb.articles import Article
from kb.cli.common import BarProgress, console, domain_errors, err_console, fail, knowledge_base, load_settings
from kb.errors import KbError
from kb.indexing import read_articles


def import_command(
    folder: Annotated[Path, typer.Argument(help="A folder of articles in the articles/ format.")],
) -> None:
    """Bring a folder of articles into the store (a file already imported is skipped), then index them."""
    if not folder.is_dir():
        raise fail(f"not a folder: {folder}")
    settings = load_settings()
    with domain_errors(), knowledge_base(settings) as kb:
        loaded = read_articles(folder, max_bytes=settings.max_article_bytes)
        report = kb.publishing.import_articles(loaded, folder)
        progress = BarProgress("Embedding")
        try:
            build = kb.indexing.refresh(progress=progress)
            kb.indexing.recalibrate_if_due()
        finally:
            progress.stop()
    for problem in loaded.problems:
        err_console.print(f"[yellow]skipped[/] {problem}", highlight=False)
    for warning in loaded.warnings:
        err_console.print(f"[yellow]warning[/] {warning}", highlight=False)
    console.print(
        f"Imported {folder}: {len(report.added)} new, {len(report.updated)} updated, {len(report.unchanged)} "
        f"unchanged, {len(loaded.problems)} skipped; {len(build.embedded)} article(s) embedded."
        + (
            f" {len(report.kept)} kept as they are in kb (written there, or from another folder): "
            + ", ".join(report.kept)
            if report.kept
            else ""
        ),
        highlight=False,
    )


def export_command(
    folder: Annotated[Path, typer.Argument(help="Where to write the articles (created if missing).")],
) -> None:
    """Write every article's newest version to a folder as Markdown files, as they were written."""
    if folder.exists() and not folder.is_dir():
        raise fail(f"not a folder: {folder}")
    with domain_errors(), knowledge_base() as kb:
        written = kb.publishing.export(folder)
    console.print(f"Exported {written} article(s) to {folder}.", highlight=False)


def publish_command(
    files: Annotated[list[Path], typer.Argument(help="Article files to validate and publish.")],
) -> None:
    """Validate article files and publish them as they are (for teams that review in git and publish from CI).
    Nothing is published unless every file is valid."""
    settings = load_settings()
    with domain_errors(), knowledge_base(settings) as kb:
        articles: list[Article] = []
        problems: list[str] = []
        for path in files:
            try:
                markdown = path.read_bytes().decode("utf-8-sig")
                articles.append(kb.publishing.validate_file(markdown, path.name))
            except (OSError, UnicodeDecodeError) as exc:
                problems.append(f"{path}: cannot read: {exc}")
            except KbError as exc:
                problems.append(f"{path}: {exc.detail}")
        for problem in problems:
            err_console.print(f"[red]invalid[/] {problem}", highlight=False)
        if problems:
            raise fail(f"{len(problems)} of {len(files)} file(s) invalid; nothing was published")
        published = kb.publishing.publish_files(articles, LOCAL_ADMIN)
        kb.indexing.recalibrate_if_due()
    unchanged = len(articles) - len(published)
    console.print(
        f"Published {len(published)} article(s)" + (f", {unchanged} already as published" if unchanged else "") + ".",
        highlight=False,
    )
