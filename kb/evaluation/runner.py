"""`kb eval`: index a data set once with the real pipeline in a throw-away data dir, search every query with each
requested retriever, and score rankings and answers."""

from __future__ import annotations

import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from indexer.build import Progress
from indexer.embedders import Embedder
from kb.articles import LoadResult
from kb.evaluation.dataset import EvalDataset, EvalQuery
from kb.evaluation.metrics import f1, mrr_at_k, ndcg_at_k, recall_at_k
from kb.search import Searcher, SearchOutcome
from kb.service import KnowledgeBase
from kb.settings import Retriever, Settings

K = 10
TOP = 3  # an answer counts as right for "answered with the right article in the top 3"
_TEAMS = {"teams": [{"name": "Support", "timezone": "UTC"}]}


@dataclass(frozen=True)
class EvalReport:
    """The keys `kb eval --json` prints, one report per retriever."""

    figures: dict[str, Any]


@contextmanager
def dataset_kb(
    dataset: EvalDataset, embedder: Embedder, base: Settings, progress: Progress | None = None
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
            }
        )
        kb = KnowledgeBase(settings, embedder=embedder)
        try:
            started = time.perf_counter()
            kb.indexing.build(source=LoadResult(articles=list(dataset.corpus)), progress=progress)
            yield kb, time.perf_counter() - started
        finally:
            kb.close()


def run_eval(
    dataset: EvalDataset,
    embedder: Embedder,
    base: Settings,
    retrievers: Sequence[Retriever] = ("hybrid",),
    progress: Progress | None = None,
) -> list[EvalReport]:
    """Index the corpus once, then for each retriever search every query the way /v1/search does and score it."""
    with dataset_kb(dataset, embedder, base, progress) as (kb, index_s):
        built = kb.indexing.searcher()
        reports = []
        for retriever in retrievers:
            figures = _score(dataset, built.with_retriever(retriever))
            reports.append(EvalReport({**figures, "retriever": retriever, "index_s": round(index_s, 2)}))
    return reports


def _score(dataset: EvalDataset, searcher: Searcher) -> dict[str, Any]:
    searcher.search(dataset.queries[0].text if dataset.queries else "warm up", K)
    latencies: list[float] = []

    def search(query: EvalQuery) -> SearchOutcome:
        began = time.perf_counter()
        outcome = searcher.search(query.text, K)
        latencies.append((time.perf_counter() - began) * 1000)
        return outcome

    answerable = [(q, search(q)) for q in dataset.queries]
    unanswerable = [(q, search(q)) for q in dataset.unanswerable]

    ndcg, recall, mrr, true_positives, right_in_top = [], [], [], 0, 0
    for query, outcome in answerable:
        relevant = dataset.qrels[query.id]
        ranking = [hit.group for hit in outcome.hits]  # a translation counts as its original
        ndcg.append(ndcg_at_k(ranking, relevant, K))
        recall.append(recall_at_k(ranking, relevant, K))
        mrr.append(mrr_at_k(ranking, relevant, K))
        true_positives += outcome.answered and bool(set(ranking) & relevant)
        right_in_top += outcome.answered and bool(set(ranking[:TOP]) & relevant)

    def share(count: int, total: int) -> float | None:
        return round(count / total, 4) if total else None

    figures: dict[str, Any] = {
        "ndcg@10": _mean(ndcg),
        "recall@10": _mean(recall),
        "mrr@10": _mean(mrr),
        "answer_precision": None,
        "answer_recall": None,
        "answer_f1": None,
        "answered": share(sum(o.answered for _, o in answerable), len(answerable)),
        "answered_right_top3": share(right_in_top, len(answerable)),
    }
    if dataset.has_unanswerable:
        said_yes = sum(o.answered for _, o in answerable) + sum(o.answered for _, o in unanswerable)
        precision = true_positives / said_yes if said_yes else 0.0
        recall_answers = true_positives / len(answerable) if answerable else 0.0
        figures |= {
            "answer_precision": round(precision, 4),
            "answer_recall": round(recall_answers, 4),
            "answer_f1": round(f1(precision, recall_answers), 4),
            "refused": share(sum(not o.answered for _, o in unanswerable), len(unanswerable)),
        }
        for kind in sorted({q.kind for q, _ in unanswerable if q.kind}):
            of_kind = [o for q, o in unanswerable if q.kind == kind]
            figures[f"refused_{kind}"] = share(sum(not o.answered for o in of_kind), len(of_kind))
    languages = Counter(o.language for _, o in answerable + unanswerable)
    return figures | {
        "query_language": dict(languages.most_common()),
        "queries": len(answerable) + len(unanswerable),
        "docs": len(dataset.corpus),
        "search_p50_ms": round(statistics.median(latencies), 2) if latencies else 0.0,
    }


def _mean(values: list[float]) -> float:
    return round(statistics.fmean(values), 4) if values else 0.0
