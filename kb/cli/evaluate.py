"""`kb eval DATASET_DIR`: search quality of the real pipeline on a BEIR-layout data set."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, get_args

import typer
from rich.table import Table

from kb.cli.common import BarProgress, console, domain_errors, existing_dir, load_settings
from kb.errors import InvalidInput
from kb.evaluation import load_dataset, run_eval
from kb.indexing import load_embedder
from kb.settings import Retriever


def _retrievers(text: str) -> list[Retriever]:
    known: tuple[Retriever, ...] = get_args(Retriever)
    chosen = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in chosen if name not in known]
    if unknown or not chosen:
        named = ", ".join(unknown) or "(none)"
        raise InvalidInput(f"unknown retriever {named}; use {', '.join(known)}", field="retriever")
    return [r for r in known if r in chosen]  # typed, in a fixed order, each once


def eval_command(
    dataset_dir: Annotated[Path, typer.Argument(help="Folder with queries.jsonl, qrels.tsv and corpus.jsonl.")],
    retriever: Annotated[
        str,
        typer.Option(help="Retrievers to score on the one index, comma-separated: hybrid,dense,multilingual,keyword."),
    ] = "hybrid",
    articles: Annotated[
        Path | None,
        typer.Option(help="For a set without corpus.jsonl: the articles folder it is about (default KB_ARTICLES_DIR)."),
    ] = None,
    split: Annotated[str | None, typer.Option(help="Only the queries of this split (dev or test).")] = None,
    limit_queries: Annotated[
        int | None, typer.Option(min=1, help="Use only the first N queries (and N unanswerable ones).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="End with one JSON line of figures per retriever.")] = False,
) -> None:
    """Index the data set once in a temporary folder (your KB is untouched), run every query with each retriever,
    print the figures."""
    existing_dir(dataset_dir)
    settings = load_settings()
    with domain_errors():
        chosen = _retrievers(retriever)
        folder = articles if articles is not None else settings.articles_dir
        dataset = load_dataset(dataset_dir, limit_queries, articles_dir=folder, split=split)
        embedder = load_embedder(settings)
        progress = BarProgress(f"Indexing {dataset.name}")
        try:
            reports = run_eval(dataset, embedder, settings, retrievers=chosen, progress=progress)
        finally:
            progress.stop()
    table = Table(title=f"{dataset.name}" + (f" ({split})" if split else ""))
    table.add_column("metric")
    for report in reports:
        table.add_column(report.figures["retriever"], justify="right")
    for key in reports[0].figures:
        if key != "retriever":
            table.add_row(key, *("—" if r.figures[key] is None else str(r.figures[key]) for r in reports))
    console.print(table)
    if as_json:
        for report in reports:
            typer.echo(json.dumps({"dataset": dataset.name, "split": split, **report.figures}))
