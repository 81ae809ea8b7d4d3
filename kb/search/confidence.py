"""From retrieval evidence to a calibrated probability that the top result answers the question."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Evidence:
    """What the answer decision looks at, all cosines of the same model (so comparable across KBs)."""

    top_dense: float  # the best chunk of the top-ranked article
    second_dense: float  # the second-best chunk of the whole KB, whichever article it belongs to


@dataclass(frozen=True)
class ConfidenceModel:
    """Logistic regression over the evidence, fitted once on the StackFAQ dev sets (small and 40x larger KB).

    Reproduce the coefficients with `python bench/calibrate_confidence.py`. The second-best chunk carries
    most of the weight: a question the KB really covers is matched by more than one passage (several
    sections of one article, or several articles), while an off-topic question meets one stray passage
    at best. A lone high cosine is weaker evidence than two good ones.
    """

    top_weight: float = 4.5
    second_weight: float = 25.6
    bias: float = -16.4

    def confidence(self, evidence: Evidence) -> float:
        logit = self.top_weight * evidence.top_dense + self.second_weight * evidence.second_dense + self.bias
        return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, logit))))
