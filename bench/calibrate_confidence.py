"""Fit the answer decision (kb.search.confidence.ConfidenceModel) on the starter KB's development questions.

The questions in bench/questions/starter were written by hand, the way employees type, before anything was
tuned; the model never saw them. This script runs the real pipeline (indexing, calibration, retrieval as in
/v1/search) on the starter KB, fits a logistic regression on the `dev` half (label: the right article is among
the top 3 shown), and reports answer F1 at 0.5 (an answer counts as right with the right article in its top 3) on
the `dev` and `test` halves and on the public sets, each KB with its own calibration (the same coefficients
everywhere: no per-set setting), the decision taken as /v1/search takes it.

It then fits the cross-lingual model (questions in another language, read with the multilingual encoder's cosines
on its own scale) on the development halves of the Portuguese, Polish and French sets together
(bench/questions/starter_{pt,pl,fr}), and reports each set's held-out half: answer F1, covered questions answered
with the right article in the top 3, and off-topic questions refused.

    .venv/bin/python bench/calibrate_confidence.py [--eval-dir ../shared/eval] [--sets stackfaq,doc2dial]
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import numpy.typing as npt

from indexer.embedders.sentence_transformer import SentenceTransformerEmbedder
from kb.evaluation.dataset import EvalDataset, load_dataset
from kb.evaluation.metrics import f1
from kb.evaluation.runner import dataset_kb
from kb.search.confidence import Calibration, ConfidenceModel, Evidence, Logistic
from kb.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
QUESTIONS = ROOT / "bench" / "questions"
STARTER = QUESTIONS / "starter"
Matrix = npt.NDArray[np.float64]
Flags = npt.NDArray[np.bool_]


CROSS_LINGUAL_SETS = ("starter_pt", "starter_pl", "starter_fr")


def features(evidence: Evidence, calibration: Calibration) -> list[float]:
    scale, _ = calibration.reading(evidence.cross_lingual)
    return [evidence.top_dense / scale, evidence.margin / scale, evidence.keyword]


@dataclass(frozen=True)
class Scored:
    """One split's questions: feature rows, whether each question is answerable, whether a relevant article is in
    its top 3, and whether it is off-topic."""

    x: Matrix
    answerable: Flags
    right_top3: Flags
    offtopic: Flags

    @property
    def right(self) -> Flags:
        """The label, and an answer that counts: an answerable question with a relevant article in its top 3."""
        return self.answerable & self.right_top3

    def __add__(self, other: Scored) -> Scored:
        return Scored(*(np.concatenate([a, b]) for a, b in zip(vars(self).values(), vars(other).values(), strict=True)))


@dataclass(frozen=True)
class Asked:
    """One question's evidence and outcome."""

    evidence: Evidence
    answerable: bool
    right_top3: bool
    offtopic: bool


@dataclass(frozen=True)
class Collected:
    calibration: Calibration
    splits: dict[str, list[Asked]]  # per split, and "all"

    def scored(self, split: str = "all") -> Scored:
        asked = self.splits[split]
        return Scored(
            np.array([features(a.evidence, self.calibration) for a in asked]),
            np.array([a.answerable for a in asked], dtype=bool),
            np.array([a.right_top3 for a in asked], dtype=bool),
            np.array([a.offtopic for a in asked], dtype=bool),
        )

    def confidences(self, model: ConfidenceModel, split: str = "all") -> Matrix:
        """`model`'s confidence in each question, as /v1/search decides it (stored questions held to their bar)."""
        return np.array([model.confidence(a.evidence, self.calibration) for a in self.splits[split]])


def collect(dataset: EvalDataset, embedder: SentenceTransformerEmbedder) -> Collected:
    """Every question searched as /v1/search does (language, spelling, retrieval), by split."""
    splits: dict[str, list[Asked]] = {}
    with dataset_kb(dataset, embedder, Settings()) as (kb, _):
        searcher = kb.indexing.searcher()
        print(f"{dataset.name}: {searcher.calibration}")
        for query in dataset.queries + dataset.unanswerable:
            searched, language = searcher.prepared(query.text)
            retrieval = searcher.retrieve(searched, None, language)
            relevant = dataset.qrels.get(query.id, set())
            ranking = [
                searcher.index.docs[article].get("translation_of") or article for article, _, _ in retrieval.ranked
            ]
            asked = Asked(
                retrieval.evidence,
                bool(relevant),
                bool(set(ranking[:3]) & relevant),
                query.kind == "offtopic",
            )
            for split in ["all"] + ([query.split] if query.split else []):
                splits.setdefault(split, []).append(asked)
        return Collected(searcher.calibration, splits)


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


def answer_f1(confidence: Matrix, data: Scored, threshold: float = 0.5) -> float:
    said_yes = confidence >= threshold
    true_positives = float((said_yes & data.right).sum())
    precision = true_positives / max(int(said_yes.sum()), 1)
    return f1(precision, true_positives / max(int(data.answerable.sum()), 1))


def threshold_table(confidence: Matrix, data: Scored) -> None:
    """What moving KB_ANSWER_THRESHOLD trades: covered questions answered with the right article in the top 3,
    against the share of answers that are wrong (no right article in the top 3, or no article covers it)."""
    print("| threshold | covered questions answered (right article in top 3) | answers that are wrong |")
    print("|---|---|---|")
    for threshold in (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8):
        said_yes = confidence >= threshold
        right = said_yes & data.right
        wrong = int(said_yes.sum() - right.sum())
        answered = right.sum() / max(int(data.answerable.sum()), 1)
        print(f"| {threshold:.1f} | {answered:.0%} | {wrong / max(int(said_yes.sum()), 1):.0%} |")


def fitted_logistic(data: Scored) -> Logistic:
    weights, bias = fit_logistic(data.x, data.right.astype(np.float64))
    score, margin, keyword = (round(float(w), 1) for w in weights)
    return Logistic(score, margin, keyword, bias=round(bias, 1))


def outcomes(confidence: Matrix, data: Scored, threshold: float = 0.5) -> str:
    said_yes = confidence >= threshold
    right = (said_yes & data.right).sum() / max(int(data.answerable.sum()), 1)
    refused = (~said_yes & data.offtopic).sum() / max(int(data.offtopic.sum()), 1)
    f1_score = answer_f1(confidence, data, threshold)
    return f"F1 {f1_score:.4f} · right in top 3 {right:.0%} · off-topic refused {refused:.0%}"


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--eval-dir", type=Path, default=ROOT.parent / "shared" / "eval")
    parser.add_argument("--sets", default="stackfaq,stackfaq_tldr")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    embedder = SentenceTransformerEmbedder()
    shipped = ConfidenceModel()
    starter = collect(load_dataset(STARTER, articles_dir=ROOT / "articles"), embedder)
    fitted = fitted_logistic(starter.scored("dev"))
    print(f"same language, fitted:  {fitted}")
    print(f"same language, shipped: {shipped.same_language}")
    sets = {f"starter {split}": (starter, split) for split in ("dev", "test")}
    for name in filter(None, args.sets.split(",")):
        sets[name] = (collect(load_dataset(args.eval_dir / name), embedder), "all")
    for name, (collected, split) in sets.items():
        for label, model in (("fitted", replace(shipped, same_language=fitted)), ("shipped", shipped)):
            print(f"{name:16} {label:8} {outcomes(collected.confidences(model, split), collected.scored(split))}")

    foreign = {
        name: collect(load_dataset(QUESTIONS / name, articles_dir=ROOT / "articles"), embedder)
        for name in CROSS_LINGUAL_SETS
    }
    dev = foreign[CROSS_LINGUAL_SETS[0]].scored("dev")
    for name in CROSS_LINGUAL_SETS[1:]:
        dev = dev + foreign[name].scored("dev")
    cross = fitted_logistic(dev)
    print(f"\ncross-lingual, fitted on the three development halves:  {cross}")
    print(f"cross-lingual, shipped: {shipped.cross_lingual}")
    for name, collected in foreign.items():
        for split in ("dev", "test"):
            data = collected.scored(split)
            for label, model in (("fitted", replace(shipped, cross_lingual=cross)), ("shipped", shipped)):
                print(f"{name:12} {split:5} {label:8} {outcomes(collected.confidences(model, split), data)}")
    print("\nThe shipped model on every starter question (dev and test):\n")
    threshold_table(starter.confidences(shipped), starter.scored())


if __name__ == "__main__":
    main()
