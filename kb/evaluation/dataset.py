"""Reading a retrieval data set in BEIR's layout (corpus.jsonl, queries.jsonl, qrels.tsv, unanswerable.jsonl).

A set without corpus.jsonl is a question set about a folder of articles (bench/questions/starter is one about
the bundled `articles/`): its corpus ids are article ids.
"""

from __future__ import annotations

import csv
import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from kb.articles import Article, load_articles, parse_article
from kb.errors import InvalidInput


@dataclass(frozen=True)
class EvalQuery:
    id: str
    text: str
    split: str | None = None  # "dev" (tune on it) or "test" (report it), when the set says
    kind: str | None = None  # for unanswerable queries: "uncovered" (on topic, no article) or "offtopic"


@dataclass(frozen=True)
class EvalDataset:
    name: str
    corpus: list[Article]
    queries: list[EvalQuery]
    qrels: dict[str, set[str]]
    unanswerable: list[EvalQuery] = field(default_factory=list)
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


def _query(row: dict[str, Any]) -> EvalQuery:
    return EvalQuery(str(row["id"]), str(row["text"]), row.get("split"), row.get("kind"))


def _as_article(doc: dict[str, Any]) -> Article:
    # Through the same parser as a file on disk: front matter + body → Article with one untitled section.
    title = str(doc.get("title") or "") or str(doc["id"])
    raw = "---\n" + yaml.safe_dump({"id": str(doc["id"]), "title": title}) + "---\n" + str(doc.get("text") or "")
    parsed = parse_article(raw, source=f"corpus:{doc['id']}")
    if not isinstance(parsed, Article):  # pragma: no cover - ids and titles come from safe_dump
        raise ValueError(str(parsed))
    # The corpus id is the relevance key: keep it verbatim (the parser would slugify it).
    return dataclasses.replace(parsed, id=str(doc["id"]))


def _corpus(folder: Path, articles_dir: Path | None) -> list[Article]:
    if (folder / "corpus.jsonl").is_file():
        return [_as_article(d) for d in _jsonl(folder / "corpus.jsonl")]
    if articles_dir is None or not articles_dir.is_dir():
        raise InvalidInput(
            f"{folder} has no corpus.jsonl: not a BEIR-layout data set (for a question set about a folder of "
            "articles, pass --articles DIR)",
            field="dataset",
        )
    return [a for a in load_articles(articles_dir).articles if a.searchable]


def load_dataset(
    folder: Path, limit_queries: int | None = None, *, articles_dir: Path | None = None, split: str | None = None
) -> EvalDataset:
    """Load the set; `limit_queries` keeps the first N answerable and the first N unanswerable queries, `split`
    only the queries of that split. Without corpus.jsonl the corpus is the published articles of `articles_dir`."""
    for required in ("queries.jsonl", "qrels.tsv"):
        if not (folder / required).is_file():
            raise InvalidInput(
                f"{folder} has no {required}: not a BEIR-layout data set (corpus.jsonl, queries.jsonl, qrels.tsv)",
                field="dataset",
            )
    qrels: dict[str, set[str]] = {}
    with (folder / "qrels.tsv").open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle, delimiter="\t"):
            if float(row.get("score") or 1) > 0:
                qrels.setdefault(row["query-id"], set()).add(row["corpus-id"])
    corpus = _corpus(folder, articles_dir)
    queries = [_query(q) for q in _jsonl(folder / "queries.jsonl") if str(q["id"]) in qrels]
    unanswerable_path = folder / "unanswerable.jsonl"
    unanswerable = [_query(q) for q in _jsonl(unanswerable_path)] if unanswerable_path.is_file() else []
    if split is not None:
        queries = [q for q in queries if q.split == split]
        unanswerable = [q for q in unanswerable if q.split == split]
        if not queries:
            raise InvalidInput(f"no query of {folder} is in split {split!r}", field="split")
    if limit_queries is not None:
        queries, unanswerable = queries[:limit_queries], unanswerable[:limit_queries]
    return EvalDataset(folder.name, corpus, queries, qrels, unanswerable, unanswerable_path.is_file())
