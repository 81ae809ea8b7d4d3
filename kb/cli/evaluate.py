"""`kb eval DATASET_DIR`: search quality of the real pipeline on a BEIR-layout data set."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from kb.cli.common import BarProgress, console, domain_errors, existing_dir, load_settings
from kb.evaluation import load_dataset, run_eval
from kb.service import load_embedder
from kb.settings import Retriever


def eval_command(
    dataset_dir: Annotated[Path, typer.Argument(help="Folder with corpus.jsonl, queries.jsonl, qrels.tsv.")],
    retriever: Annotated[Retriever, typer.Option(help="Which retrievers rank the results.")] = "hybrid",
    limit_queries: Annotated[
        int | None, typer.Option(min=1, help="Use only the first N queries (and N unanswerable ones).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="End with one JSON line of the figures.")] = False,
) -> None:
    """Index the data set in a temporary folder (your KB is untouched), run every query, print the figures."""
    existing_dir(dataset_dir)
    settings = load_settings()
    with domain_errors():
        dataset = load_dataset(dataset_dir, limit_queries)
        embedder = load_embedder(settings)
        progress = BarProgress(f"Indexing {dataset.name}")
        try:
            report = run_eval(dataset, embedder, settings, retriever=retriever, progress=progress)
        finally:
            progress.stop()
    table = Table(title=f"{dataset.name}: {retriever}")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, value in report.figures.items():
        table.add_row(key, "—" if value is None else str(value))
    console.print(table)
    if as_json:
        typer.echo(json.dumps(report.figures))
