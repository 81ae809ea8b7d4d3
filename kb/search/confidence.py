"""From retrieval evidence to a probability that the top result answers the question, calibrated on the KB."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

# 4: the uncovered score of stored questions; 5: per encoder; 6: the uncovered score of titles
CALIBRATION_VERSION = "title-score-6"
# For a KB with no public title of three words or more to measure: about where the starter KB's titles score with
# their own article present (0.80) and hidden (0.48).
DEFAULT_TITLE_SCORE = 0.85
DEFAULT_TITLE_UNCOVERED = 0.5
# Where uncovered questions score relative to covered ones on the starter KB (0.48 of 0.80), on which the model is
# fitted. A KB whose uncovered titles score lower (a handful of unrelated articles: nothing near enough to stand in)
# would be read as more lenient than anything the model has seen: the uncovered score stops here instead of
# extrapolating toward answering more.
MIN_UNCOVERED_SHARE = 0.6
# The narrowest span between covered and uncovered titles that the cosines are read in units of. Below it a KB's
# titles say too little about its own text (command names, ids), and one unit would magnify noise.
MIN_SPAN = 0.1
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
    # The median best score of the same titles with their own article hidden: where an on-topic question that this
    # KB does not answer scores. Neighbouring articles that overlap (two VPN articles, pages of one product) raise it.
    title_uncovered: float = DEFAULT_TITLE_UNCOVERED
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
            float(meta.get("title_uncovered", DEFAULT_TITLE_UNCOVERED)),
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

    def reading(self, cross_lingual: bool) -> Scale:
        """The scale of the English encoder's cosines, or of the multilingual one's (a question in another
        language), each measured with that encoder on this KB."""
        if not cross_lingual or self.multilingual_title_score is None:
            uncovered = max(self.title_uncovered, MIN_UNCOVERED_SHARE * self.title_score)
            return Scale(self.title_score, uncovered, self.question_uncovered)
        # Hidden English titles say where an English question the KB does not answer scores, not where a foreign one
        # does (lower: measured, reading cross-lingual cosines from there cost the Portuguese, Polish and French sets
        # a third of their answers). So a foreign question is read from zero, on the multilingual title score alone.
        return Scale(self.multilingual_title_score, 0.0, self.multilingual_question_uncovered)


@dataclass(frozen=True)
class Scale:
    """Where a question scores on one KB with one encoder when the KB answers it (`covered`, its titles against their
    own article) and when it does not (`uncovered`, the same titles with their article hidden)."""

    covered: float
    uncovered: float
    question_uncovered: float | None = None  # stored questions' bar (see Calibration), None in a KB of documents

    @property
    def span(self) -> float:
        return max(self.covered - self.uncovered, MIN_SPAN)

    def units(self, cosine: float) -> float:
        """How far a cosine sits above the uncovered score, in units of the span to the covered one."""
        return (cosine - self.uncovered) / self.span


@dataclass(frozen=True)
class Logistic:
    """A logistic regression over (top cosine and margin in units of the KB's scale, keyword share)."""

    score_weight: float
    margin_weight: float
    keyword_weight: float
    bias: float

    def logit(self, evidence: Evidence, scale: Scale) -> float:
        return (
            self.score_weight * scale.units(evidence.top_dense)
            + self.margin_weight * evidence.margin / scale.span
            + self.keyword_weight * evidence.keyword
            + self.bias
        )


@dataclass(frozen=True)
class ConfidenceModel:
    """Logistic regressions over the evidence divided by the KB's scale for the encoder that produced it.

    `same_language` reads the English encoder's cosines of an English question; `cross_lingual` the multilingual
    encoder's of a question in another language, which sits further from the English text that answers it than a
    same-language title does, and whose keyword evidence (product names, borrowed words) means less. Each was fitted
    on the development half of hand-written questions about the starter KB (bench/questions/starter, and
    starter_pt, starter_pl, starter_fr: how employees write, text the models were never trained on);
    `python bench/calibrate_confidence.py` reproduces the coefficients and reports the held-out halves and the public
    sets. The scale, not the coefficients, is what adapts to each KB.
    """

    same_language: Logistic = Logistic(score_weight=5.5, margin_weight=0.7, keyword_weight=2.1, bias=1.1)
    cross_lingual: Logistic = Logistic(score_weight=5.2, margin_weight=3.6, keyword_weight=0.5, bias=-2.7)
    # Per unit of cosine above the KB's uncovered score of stored questions: 0.1 above it is a probability of 0.95.
    question_slope: float = 30.0

    def confidence(self, evidence: Evidence, calibration: Calibration) -> float:
        scale = calibration.reading(evidence.cross_lingual)
        uncovered = scale.question_uncovered
        if uncovered is not None and (evidence.stored_question or calibration.faq):
            # The top article is a stored question, and a paraphrase of it scores as high as the KB's own stored
            # questions do against each other: only a score above what uncovered questions reach in this KB says
            # that the KB holds this one. Measured, not fitted: the same rule on every FAQ.
            logit = self.question_slope * (evidence.top_dense - uncovered)
        else:
            model = self.cross_lingual if evidence.cross_lingual else self.same_language
            logit = model.logit(evidence, scale)
        return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, logit))))
