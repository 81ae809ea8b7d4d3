"""Reading a retrieval data set in BEIR's layout (corpus.jsonl, queries.jsonl, qrels.tsv, unanswerable.jsonl)."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kb.errors import InvalidInput


@dataclass(frozen=True)
class EvalDataset:
    name: str
    corpus: list[dict[str, str]]
    queries: list[dict[str, str]]
    qrels: dict[str, set[str]]
    unanswerable: list[dict[str, str]] = field(default_factory=list)
    has_unanswerable: bool = False


def _jsonl(path: Path) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise InvalidInput(f"{path}:{number}: not JSON: {exc.msg}", field="dataset") from exc
    return rows


def load_dataset(folder: Path, limit_queries: int | None = None) -> EvalDataset:
    """Load the set; `limit_queries` keeps the first N answerable and the first N unanswerable queries."""
    for required in ("corpus.jsonl", "queries.jsonl", "qrels.tsv"):
        if not (folder / required).is_file():
            raise InvalidInput(f"{folder} has no {required}: not a BEIR-layout data set", field="dataset")
    qrels: dict[str, set[str]] = {}
    with (folder / "qrels.tsv").open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle, delimiter="\t"):
            if float(row.get("score") or 1) > 0:
                qrels.setdefault(row["query-id"], set()).add(row["corpus-id"])
    corpus = [
        {"id": str(d["id"]), "title": d.get("title") or "", "text": d.get("text") or ""}
        for d in _jsonl(folder / "corpus.jsonl")
    ]
    queries = [
        {"id": str(q["id"]), "text": q["text"]} for q in _jsonl(folder / "queries.jsonl") if str(q["id"]) in qrels
    ]
    unanswerable_path = folder / "unanswerable.jsonl"
    unanswerable = (
        [{"id": str(q["id"]), "text": q["text"]} for q in _jsonl(unanswerable_path)]
        if unanswerable_path.is_file()
        else []
    )
    if limit_queries is not None:
        queries, unanswerable = queries[:limit_queries], unanswerable[:limit_queries]
    return EvalDataset(folder.name, corpus, queries, qrels, unanswerable, unanswerable_path.is_file())
