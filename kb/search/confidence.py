"""From raw scores to a confidence in [0, 1] that the top result answers the question."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class ConfidenceModel:
    """A logistic curve over the top article's dense cosine, nudged by keyword agreement and the margin.

    `midpoint` is the cosine at which a lone dense signal means even odds; agreement of the keyword
    retriever on the same article and a clear lead over the runner-up both raise confidence.
    """

    midpoint: float = 0.45
    scale: float = 0.06
    agreement_bonus: float = 0.04
    margin_weight: float = 0.5

    def confidence(self, top_dense: float, runner_up_dense: float | None, keyword_agrees: bool) -> float:
        margin = top_dense - runner_up_dense if runner_up_dense is not None else 0.0
        evidence = top_dense + (self.agreement_bonus if keyword_agrees else 0.0) + self.margin_weight * margin
        return 1.0 / (1.0 + math.exp(-(evidence - self.midpoint) / self.scale))
