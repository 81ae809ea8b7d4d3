"""Ranking and answer-decision metrics (binary relevance), as pure functions."""

from __future__ import annotations

import math
from collections.abc import Sequence


def ndcg_at_k(ranking: Sequence[str], relevant: set[str], k: int = 10) -> float:
    dcg = sum(1.0 / math.log2(rank + 2) for rank, doc in enumerate(ranking[:k]) if doc in relevant)
    ideal = sum(1.0 / math.log2(rank + 2) for rank in range(min(len(relevant), k)))
    return dcg / ideal if ideal else 0.0


def recall_at_k(ranking: Sequence[str], relevant: set[str], k: int = 10) -> float:
    return len(set(ranking[:k]) & relevant) / len(relevant) if relevant else 0.0


def mrr_at_k(ranking: Sequence[str], relevant: set[str], k: int = 10) -> float:
    return next((1.0 / (rank + 1) for rank, doc in enumerate(ranking[:k]) if doc in relevant), 0.0)


def f1(precision: float, recall: float) -> float:
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0
