"""Readers' votes and search quality, on one index, scored on the set's test queries (all queries when it has no
splits), with:

  none        no votes (what `kb eval` measures);
  readers     the votes readers of the dev queries would cast: "helpful" on the article that answers each, "not
              helpful" on a wrong first result (votes learnt on dev, scored on test: no leak);
  random      each article 0 to 30 votes, helpful or not at random;
  polarised   a random half of the articles 30 "helpful", the other half 30 "not helpful" (the largest swing).

The boost is bounded (at most ±5 %, see kb.articles.helpfulness), so wrong votes should barely hurt.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/vote_ranking.py [DATASET_DIR] [--articles DIR]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
from datetime import UTC, datetime
from pathlib import Path

from kb.evaluation import load_dataset
from kb.evaluation.dataset import EvalDataset, EvalQuery
from kb.evaluation.metrics import ndcg_at_k
from kb.evaluation.runner import dataset_kb
from kb.indexing import load_embedder
from kb.service import KnowledgeBase
from kb.settings import Settings
from kb.store.surveys import ArticleFeedback

REPO = Path(__file__).resolve().parent.parent
VOTES = 30


def _figures(kb: KnowledgeBase, dataset: EvalDataset, split: str | None) -> dict[str, float]:
    searcher = kb.indexing.searcher()
    ndcg, top1 = [], []
    for query in _queries(dataset, split):
        relevant = dataset.qrels[query.id]
        ranking = [hit.group for hit in searcher.search(query.text, 10).hits]
        ndcg.append(ndcg_at_k(ranking, relevant, 10))
        top1.append(float(bool(ranking) and ranking[0] in relevant))
    return {"ndcg@10": round(statistics.fmean(ndcg), 4), "top1": round(statistics.fmean(top1), 4)}


def _queries(dataset: EvalDataset, split: str | None) -> list[EvalQuery]:
    return [q for q in dataset.queries if split is None or q.split == split]


def _readers_votes(kb: KnowledgeBase, dataset: EvalDataset) -> dict[str, tuple[int, int]]:
    searcher = kb.indexing.searcher()
    votes: dict[str, list[int]] = {}
    for query in _queries(dataset, "dev"):
        relevant = dataset.qrels[query.id]
        hits = searcher.search(query.text, 10).hits
        for doc in relevant:
            votes.setdefault(doc, [0, 0])[0] += 1
        if hits and hits[0].group not in relevant:
            votes.setdefault(hits[0].group, [0, 0])[1] += 1
    return {doc: (pair[0], pair[1]) for doc, pair in votes.items()}


def _vote(kb: KnowledgeBase, votes: dict[str, tuple[int, int]]) -> None:
    """Replace every vote with `votes` (helpful, not helpful) per article, one user per vote."""
    now = datetime.now(UTC)
    with kb.store.engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM article_feedback")
    for article_id, (helpful, not_helpful) in votes.items():
        for number in range(helpful + not_helpful):
            kind = "helpful" if number < helpful else "not_helpful"
            kb.store.surveys.add_feedback(ArticleFeedback(article_id, f"voter-{number}", kind, None, now))
    kb.ranking_boosts.expire()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dataset", nargs="?", type=Path, default=REPO / "bench" / "questions" / "starter")
    parser.add_argument("--articles", type=Path, default=REPO / "articles")
    parser.add_argument("--seed", type=int, default=20261202)
    args = parser.parse_args()
    settings = Settings()
    dataset = load_dataset(args.dataset, None, articles_dir=args.articles, split=None)
    ids = sorted({a.id for a in dataset.corpus})
    rng = random.Random(args.seed)
    split = "test" if any(q.split == "test" for q in dataset.queries) else None
    with dataset_kb(dataset, load_embedder(settings), settings) as (kb, _):
        results = {"none": _figures(kb, dataset, split)}
        if split is not None:
            _vote(kb, _readers_votes(kb, dataset))
            results["readers"] = _figures(kb, dataset, split)
        randomly = {}
        for doc in ids:
            total = rng.randint(0, VOTES)
            helpful = rng.randint(0, total)
            randomly[doc] = (helpful, total - helpful)
        _vote(kb, randomly)
        results["random"] = _figures(kb, dataset, split)
        half = set(rng.sample(ids, len(ids) // 2))
        _vote(kb, {doc: (VOTES, 0) if doc in half else (0, VOTES) for doc in ids})
        results["polarised"] = _figures(kb, dataset, split)
    print(f"{'votes':<12} {'nDCG@10':>8} {'top-1':>7}")
    for name, figures in results.items():
        print(f"{name:<12} {figures['ndcg@10']:>8.4f} {figures['top1']:>7.4f}")
    print(json.dumps({"dataset": dataset.name, "split": split, **results}))


if __name__ == "__main__":
    main()
