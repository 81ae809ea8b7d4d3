"""From retrieval evidence to a probability that kb's answer holds the fix (an article that answers the question is
among the top three shown), calibrated on the KB."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

CALIBRATION_VERSION = "title-score-5"  # 4: the uncovered score of stored questions; 5: per encoder
# For a KB with no public title of three words or more to measure.
DEFAULT_TITLE_SCORE = 0.85
# The starter KB's scale, on which the model is fitted. A KB whose titles score lower against their own text
# (command names, ids: titles that name an article rather than say what it holds) would be read as more lenient
# than anything the model has seen: the scale stops here instead of extrapolating toward answering more.
MIN_TITLE_SCORE = 0.8
# The share of question titles from which a KB is read as an FAQ (question clusters) as a whole.
FAQ_SHARE = 0.5


@dataclass(frozen=True)
class Evidence:
    """What the answer decision looks at: cosines of the same model, read against the KB's own scale."""

    top_dense: float  # the best chunk of the top-ranked article
    margin: float  # top_dense minus the best chunk of any other article: how clearly one article stands out
    keyword: float = 0.0  # the share of the query's attainable keyword evidence that chunk holds (0 to 1)
    stored_question: bool = False  # a stored question (an FAQ entry; kb.search.questions) is among the nearest
    # The cosines are the multilingual encoder's (a query in another language than English), read on its own scale.
    cross_lingual: bool = False


@dataclass(frozen=True)
class Calibration:
    """What the decision must know about the KB it serves, measured on that KB at index time.

    `title_score` is the median cosine between an article's title, searched as a question, and the best
    chunk of the KB: how close a question can get to text that answers it in this KB. It is high where
    chunks are short and on one point (FAQ answers: 0.90 on StackFAQ) and lower where sections are long
    documentation (0.80 on the starter KB), and an employee's question scores lower in the second kind for
    the same quality of match. Dividing by it puts every KB's cosines on one scale.
    """

    title_score: float = DEFAULT_TITLE_SCORE
    samples: int = 0
    # The score an employee's question reaches in this KB when the KB does not hold its answer, measured on the KB's
    # stored questions (titles that are questions): each one searched with every article of that title hidden, and
    # the UNCOVERED_QUANTILE of the best scores kept. None when the KB holds too few stored questions to measure.
    question_uncovered: float | None = None
    questions: int = 0
    question_share: float = 0.0  # of the KB's distinct titles: at half or more, every article is an FAQ entry
    # The same two measures with the multilingual encoder (None without one): its cosines run on another scale.
    multilingual_title_score: float | None = None
    multilingual_question_uncovered: float | None = None
    version: str = CALIBRATION_VERSION

    @classmethod
    def of(cls, meta: dict[str, Any] | None) -> Calibration | None:
        """The calibration stored with an index generation, or None when it is missing or outdated."""
        if not meta or meta.get("version") != CALIBRATION_VERSION:
            return None

        def optional(key: str) -> float | None:
            value = meta.get(key)
            return None if value is None else float(value)

        return cls(
            float(meta["title_score"]),
            int(meta.get("samples", 0)),
            optional("question_uncovered"),
            int(meta.get("questions", 0)),
            float(meta.get("question_share", 0.0)),
            optional("multilingual_title_score"),
            optional("multilingual_question_uncovered"),
        )

    @property
    def faq(self) -> bool:
        """A KB of stored questions: an entry whose title is no question is an FAQ entry all the same."""
        return self.question_uncovered is not None and self.question_share >= FAQ_SHARE

    @property
    def scale(self) -> float:
        return max(self.title_score, MIN_TITLE_SCORE)

    def reading(self, cross_lingual: bool) -> tuple[float, float | None]:
        """(scale, uncovered score of stored questions) for the cosines of the English encoder, or of the
        multilingual one (a question in another language), each measured with that encoder on this KB."""
        if not cross_lingual or self.multilingual_title_score is None:
            return self.scale, self.question_uncovered
        return self.multilingual_title_score, self.multilingual_question_uncovered


@dataclass(frozen=True)
class Logistic:
    """A logistic regression over (top cosine / scale, margin / scale, keyword share)."""

    score_weight: float
    margin_weight: float
    keyword_weight: float
    bias: float

    def logit(self, evidence: Evidence, scale: float) -> float:
        return (
            self.score_weight * evidence.top_dense / scale
            + self.margin_weight * evidence.margin / scale
            + self.keyword_weight * evidence.keyword
            + self.bias
        )


@dataclass(frozen=True)
class ConfidenceModel:
    """Logistic regressions over the evidence divided by the KB's scale for the encoder that produced it: the
    probability that an article that answers is among the top three shown.

    `same_language` reads the English encoder's cosines of an English question; `cross_lingual` the multilingual
    encoder's of a question in another language, which sits further from the English text that answers it than a
    same-language title does, and whose keyword evidence (product names, borrowed words) means less. Each was fitted
    on the development half of hand-written questions about the starter KB (bench/questions/starter, and
    starter_pt, starter_pl, starter_fr: how employees write, text the models were never trained on), labelled by
    whether the right article is in the top 3, the share the targets count (an employee reads the first three);
    `python bench/calibrate_confidence.py` reproduces the coefficients and reports the held-out halves and the public
    sets. The scale, not the coefficients, is what adapts to each KB.
    """

    same_language: Logistic = Logistic(score_weight=13.9, margin_weight=1.9, keyword_weight=2.1, bias=-7.3)
    cross_lingual: Logistic = Logistic(score_weight=8.0, margin_weight=2.1, keyword_weight=1.4, bias=-4.5)
    # Per unit of cosine above the KB's uncovered score of stored questions: 0.1 above it is a probability of 0.95.
    question_slope: float = 30.0

    def confidence(self, evidence: Evidence, calibration: Calibration) -> float:
        scale, uncovered = calibration.reading(evidence.cross_lingual)
        if uncovered is not None and (evidence.stored_question or calibration.faq):
            # The top article is a stored question, and a paraphrase of it scores as high as the KB's own stored
            # questions do against each other: only a score above what uncovered questions reach in this KB says
            # that the KB holds this one. Measured, not fitted: the same rule on every FAQ.
            logit = self.question_slope * (evidence.top_dense - uncovered)
        else:
            model = self.cross_lingual if evidence.cross_lingual else self.same_language
            logit = model.logit(evidence, scale)
        return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, logit))))
