"""Fusing dense and keyword evidence into one score per chunk (pure functions, no I/O)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class FusionWeights:
    # Dense cosine is the backbone (it understands paraphrases); BM25, scaled to [0, 1] by the query's own
    # best keyword score, adds a nudge for exact terms: error codes, product names, rare words.
    keyword: float = 0.15


def fuse(
    candidates: IntArray,
    dense: FloatArray,
    keyword: FloatArray,
    weights: FusionWeights,
) -> FloatArray:
    """Fused score of each candidate row; `dense` and `keyword` hold that row's exact scores."""
    best_keyword = float(keyword.max()) if len(keyword) else 0.0
    scaled = keyword / best_keyword if best_keyword > 0 else np.zeros_like(keyword)
    return (dense + weights.keyword * scaled).astype(np.float32)


def best_per_group(rows: IntArray, scores: FloatArray, groups: list[str]) -> list[tuple[str, int, float]]:
    """(group, best row, its score) for each group present, best group first: an article appears once."""
    best: dict[str, tuple[int, float]] = {}
    for row, score in zip(rows.tolist(), scores.tolist(), strict=True):
        group = groups[row]
        if group not in best or score > best[group][1]:
            best[group] = (row, score)
    ranked = sorted(best.items(), key=lambda item: (-item[1][1], item[0]))
    return [(group, row, score) for group, (row, score) in ranked]
