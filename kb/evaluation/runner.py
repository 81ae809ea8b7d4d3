"""`kb eval`: index a data set with the real pipeline in a throw-away data dir, search every query, score it."""

from __future__ import annotations

import dataclasses
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from indexer.build import Progress
from indexer.embedders import Embedder
from kb.articles import Article, LoadResult, parse_article
from kb.evaluation.dataset import EvalDataset
from kb.evaluation.metrics import f1, mrr_at_k, ndcg_at_k, recall_at_k
from kb.search import SearchOutcome
from kb.service import KnowledgeBase
from kb.settings import Retriever, Settings

K = 10
_TEAMS = {"teams": [{"name": "Support", "timezone": "UTC"}]}


@dataclass(frozen=True)
class EvalReport:
    """Exactly the keys `kb eval --json` prints."""

    figures: dict[str, Any]


def _as_article(doc: dict[str, str]) -> Article:
    # Through the same parser as a file on disk: front matter + body → Article with one untitled section.
    raw = "---\n" + yaml.safe_dump({"id": doc["id"], "title": doc["title"] or doc["id"]}) + "---\n" + doc["text"]
    parsed = parse_article(raw, source=f"corpus:{doc['id']}")
    if not isinstance(parsed, Article):  # pragma: no cover - ids and titles come from safe_dump
        raise ValueError(str(parsed))
    # The corpus id is the relevance key: keep it verbatim (the parser would slugify it).
    return dataclasses.replace(parsed, id=doc["id"])


@contextmanager
def dataset_kb(
    dataset: EvalDataset,
    embedder: Embedder,
    base: Settings,
    retriever: Retriever = "hybrid",
    progress: Progress | None = None,
) -> Iterator[tuple[KnowledgeBase, float]]:
    """A KnowledgeBase over the data set's corpus in a temporary data dir, and the seconds indexing took.

    Everything happens in that temporary dir: the user's KB data is never touched.
    """
    with tempfile.TemporaryDirectory(prefix="kb-eval-") as tmp:
        folder = Path(tmp)
        (folder / "teams.yaml").write_text(yaml.safe_dump(_TEAMS), encoding="utf-8")
        settings = base.model_copy(
            update={
                "data_dir": folder / "data",
                "articles_dir": folder,
                "teams_file": folder / "teams.yaml",
                "database_url": None,
                "retriever": retriever,
            }
        )
        kb = KnowledgeBase(settings, embedder=embedder)
        try:
            started = time.perf_counter()
            kb.index(source=LoadResult(articles=[_as_article(d) for d in dataset.corpus]), progress=progress)
            yield kb, time.perf_counter() - started
        finally:
            kb.close()


def run_eval(
    dataset: EvalDataset,
    embedder: Embedder,
    base: Settings,
    retriever: Retriever = "hybrid",
    progress: Progress | None = None,
) -> EvalReport:
    """Index the corpus, search every query the way /v1/search does, and score rankings and answers."""
    with dataset_kb(dataset, embedder, base, retriever, progress) as (kb, index_s):
        searcher = kb.searcher()
        searcher.search(dataset.queries[0]["text"] if dataset.queries else "warm up", K)

        latencies: list[float] = []

        def search(text: str) -> SearchOutcome:
            began = time.perf_counter()
            outcome = searcher.search(text, K)
            latencies.append((time.perf_counter() - began) * 1000)
            return outcome

        answerable = [(q, search(q["text"])) for q in dataset.queries]
        unanswerable = [search(q["text"]) for q in dataset.unanswerable]

    ndcg, recall, mrr, true_positives = [], [], [], 0
    for query, outcome in answerable:
        relevant = dataset.qrels[query["id"]]
        ranking = [hit.article_id for hit in outcome.hits]
        ndcg.append(ndcg_at_k(ranking, relevant, K))
        recall.append(recall_at_k(ranking, relevant, K))
        mrr.append(mrr_at_k(ranking, relevant, K))
        true_positives += outcome.answered and bool(set(ranking) & relevant)

    answer: dict[str, float | None] = {"answer_precision": None, "answer_recall": None, "answer_f1": None}
    if dataset.has_unanswerable:
        said_yes = sum(o.answered for _, o in answerable) + sum(o.answered for o in unanswerable)
        precision = true_positives / said_yes if said_yes else 0.0
        recall_answers = true_positives / len(answerable) if answerable else 0.0
        answer = {
            "answer_precision": round(precision, 4),
            "answer_recall": round(recall_answers, 4),
            "answer_f1": round(f1(precision, recall_answers), 4),
        }

    def mean(values: list[float]) -> float:
        return round(statistics.fmean(values), 4) if values else 0.0

    return EvalReport(
        {
            "ndcg@10": mean(ndcg),
            "recall@10": mean(recall),
            "mrr@10": mean(mrr),
            **answer,
            "queries": len(answerable) + len(unanswerable),
            "docs": len(dataset.corpus),
            "retriever": retriever,
            "index_s": round(index_s, 2),
            "search_p50_ms": round(statistics.median(latencies), 2) if latencies else 0.0,
        }
    )
