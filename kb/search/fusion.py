"""Fusing dense and keyword evidence into one score per chunk (pure functions, no I/O)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class FusionWeights:
    """Dense cosine is the backbone (it understands paraphrases); keyword evidence adds what it misses.

    The keyword score is divided by the query's ceiling (see `Bm25KeywordIndex.ceiling`), so it is the share
    of the query's attainable keyword evidence a chunk holds, on the same scale whatever the KB's size.
    Chosen on text the model was not trained on (`kb eval` on doc2dial and bench/questions/starter, README
    "Search quality"): on doc2dial nDCG@10 climbs from 0.615 (dense) to 0.671 at 0.3, and the starter questions
    gain 0.015; on StackFAQ, which is in the model's training data and where dense is near its ceiling, 0.3
    costs 0.003.
    """

    keyword: float = 0.3


def fuse(dense: FloatArray, keyword: FloatArray, keyword_ceiling: float, weights: FusionWeights) -> FloatArray:
    """Fused score of each candidate row; `dense` and `keyword` hold that row's exact scores."""
    scaled = keyword / keyword_ceiling if keyword_ceiling > 0 else np.zeros_like(keyword)
    return (dense + weights.keyword * scaled).astype(np.float32)


def best_per_group(rows: IntArray, scores: FloatArray, groups: Sequence[str]) -> list[tuple[str, int, float]]:
    """(group, best row, its score) for each group present, best group first: an article appears once."""
    best: dict[str, tuple[int, float]] = {}
    for row, score in zip(rows.tolist(), scores.tolist(), strict=True):
        group = groups[row]
        if group not in best or score > best[group][1]:
            best[group] = (row, score)
    ranked = sorted(best.items(), key=lambda item: (-item[1][1], item[0]))
    return [(group, row, score) for group, (row, score) in ranked]
