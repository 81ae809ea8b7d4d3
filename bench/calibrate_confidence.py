"""Fit the answer-decision model (kb.search.confidence.ConfidenceModel) on the StackFAQ dev sets.

Runs the real pipeline (same indexing and retrieval as /v1/search) on a small KB and on the same KB with
7,400 distractor pages, pools the evidence of every answerable and unanswerable query, fits a logistic
regression, and prints the coefficients and the answer F1 each set gets at confidence 0.5. One model for
both sizes is the point: confidence must mean the same on a 200-article KB and a 7,600-article one.

    .venv/bin/python bench/calibrate_confidence.py [--eval-dir ../shared/eval]
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np
import numpy.typing as npt

from indexer.embedders.sentence_transformer import SentenceTransformerEmbedder
from kb.evaluation.dataset import load_dataset
from kb.evaluation.metrics import f1
from kb.evaluation.runner import dataset_kb
from kb.search.confidence import ConfidenceModel, Evidence
from kb.settings import Settings

SETS = ("stackfaq", "stackfaq_tldr")
Matrix = npt.NDArray[np.float64]


def collect(folder: Path, embedder: SentenceTransformerEmbedder) -> tuple[Matrix, Matrix, int]:
    """Evidence rows and labels: 1 when the query is answerable and a relevant document is in the top 10."""
    dataset = load_dataset(folder)
    rows: list[list[float]] = []
    labels: list[float] = []
    with dataset_kb(dataset, embedder, Settings()) as (kb, _):
        searcher = kb.searcher()
        for query in dataset.queries + dataset.unanswerable:
            retrieval = searcher.retrieve(query["text"])
            top10 = {article_id for article_id, _, _ in retrieval.ranked[:10]}
            relevant = dataset.qrels.get(query["id"], set())
            rows.append([retrieval.evidence.top_dense, retrieval.evidence.second_dense])
            labels.append(1.0 if top10 & relevant else 0.0)
    return np.array(rows), np.array(labels), len(dataset.queries)


def fit_logistic(x: Matrix, y: Matrix, l2: float = 1e-3, steps: int = 50) -> tuple[Matrix, float]:
    """Newton's method on standardised features; returns raw-scale weights and bias."""
    mean, std = x.mean(axis=0), x.std(axis=0) + 1e-9
    z = np.hstack([(x - mean) / std, np.ones((len(x), 1))])
    w = np.zeros(z.shape[1])
    for _ in range(steps):
        p = 1 / (1 + np.exp(-z @ w))
        gradient = z.T @ (p - y) / len(y) + l2 * np.r_[w[:-1], 0]
        hessian = (z.T * (p * (1 - p))) @ z / len(y) + l2 * np.eye(len(w))
        w -= np.linalg.solve(hessian, gradient)
    weights = w[:-1] / std
    return weights, float(w[-1] - (weights * mean).sum())


def answer_f1(confidence: Matrix, labels: Matrix, answerable: int, threshold: float = 0.5) -> float:
    said_yes = confidence >= threshold
    true_positives = float((said_yes & (labels == 1)).sum())
    precision = true_positives / max(int(said_yes.sum()), 1)
    return f1(precision, true_positives / answerable)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--eval-dir", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "eval")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    embedder = SentenceTransformerEmbedder()
    data = {name: collect(args.eval_dir / name, embedder) for name in SETS}
    weights, bias = fit_logistic(
        np.vstack([d[0] for d in data.values()]), np.concatenate([d[1] for d in data.values()])
    )
    fitted = ConfidenceModel(
        top_weight=round(float(weights[0]), 1), second_weight=round(float(weights[1]), 1), bias=round(bias, 1)
    )
    print(f"fitted:  {fitted}")
    print(f"shipped: {ConfidenceModel()}")
    for name, (x, y, answerable) in data.items():
        for label, model in (("fitted", fitted), ("shipped", ConfidenceModel())):
            confidence = np.array([model.confidence(Evidence(*row)) for row in x])
            print(f"{name:14} {label:8} answer_f1@0.5 = {answer_f1(confidence, y, answerable):.4f}")


if __name__ == "__main__":
    main()
