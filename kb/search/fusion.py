"""Fusing the retrievers' evidence into one score per chunk (pure functions, no I/O)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import astuple, dataclass

import numpy as np
import numpy.typing as npt

from kb.language import SURE, DetectedLanguage

FloatArray = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class FusionWeights:
    """How much each retriever's score counts: the English encoder's cosine, the multilingual encoder's cosine
    and the keyword share (`HybridIndex.keyword_share`: the share of the query's attainable keyword evidence a
    chunk holds, on the same scale whatever the KB's size).

    Chosen on text the English model was not trained on (README "Search quality"): doc2dial, the starter
    questions, and the cross-lingual tldr sets for the weights of other languages.
    """

    dense: float = 1.0
    multilingual: float = 0.0
    keyword: float = 0.3
    # The English encoder reads a chunk twice: with its title and by its own text alone (indexer.body_vectors). The
    # second reading counts this much of the first. A chunk whose title no other article shares has one cosine, which
    # stands for both readings: its English cosine then counts (1 + body) times.
    body: float = 0.0


@dataclass(frozen=True)
class LanguageWeights:
    """The weights for a query in English and for one in another language. A detection below SURE is a guess (a
    short or mixed query): its weights are blended toward the English ones in proportion, so a wrong guess leans on
    both encoders rather than on the wrong one alone.

    For another language the English encoder reads the question's English words and the words translated into the
    KB's English (kb.search.searcher, indexer.lexicon; its cosines for the Polish words themselves are noise): a
    second opinion beside the multilingual encoder. Its weight, 0.3, was the best of 0 to 0.5 on the development
    halves of the starter pt/pl/fr questions; keyword evidence read in both languages adds commands and product
    names.

    The text-alone reading (`body`) tells apart sections that share a title. For English it was chosen on doc2dial,
    whose pages are cut into sections under one title: 0.2 / 0.4 / 0.6 gave nDCG@10 0.692 / 0.710 / 0.713 there
    (0.680 without; the English cosine counted 1.4 times with no text-alone vectors gives 0.673: the gain is theirs).
    A KB with no shared titles reads the English cosine 1.4 times, that is weights 1.4 : 0.5 : 0.3: on the starter
    questions (no shared titles) 0.973 became 0.980, and StackFAQ (every thread's answers share its question) went
    from 0.990 to 0.989. A question surely in another language reaches the English encoder as a few translated
    words, too rough to tell sections apart: it keeps the weights it was tuned with (a guess is blended toward the
    English ones, this reading included)."""

    english: FusionWeights = FusionWeights(dense=1.0, multilingual=0.5, keyword=0.3, body=0.4)
    other: FusionWeights = FusionWeights(dense=0.3, multilingual=1.0, keyword=0.1)

    def of(self, language: DetectedLanguage) -> FusionWeights:
        if language.english:
            return self.english
        sure = min(1.0, language.confidence / SURE)
        english, other = astuple(self.english), astuple(self.other)
        return FusionWeights(*(sure * o + (1 - sure) * e for e, o in zip(english, other, strict=True)))


DEFAULT_WEIGHTS = LanguageWeights()


def fuse(
    dense: FloatArray,
    keyword: FloatArray,
    weights: FusionWeights,
    multilingual: FloatArray | None = None,
    body: FloatArray | None = None,
) -> FloatArray:
    """Fused score of each candidate row; `dense`, `keyword` (a share of the attainable keyword evidence),
    `multilingual` and `body` (the English cosine of its text alone; `dense` when not given) hold that row's exact
    scores."""
    english = dense + weights.body * (dense if body is None else body)
    fused = weights.dense * english + weights.keyword * keyword
    if multilingual is not None and weights.multilingual:
        fused = fused + weights.multilingual * multilingual
    return fused.astype(np.float32)


def best_per_group(rows: IntArray, scores: FloatArray, groups: Sequence[str]) -> list[tuple[str, int, float]]:
    """(group, best row, its score) for each group present, best group first: an article appears once."""
    best: dict[str, tuple[int, float]] = {}
    for row, score in zip(rows.tolist(), scores.tolist(), strict=True):
        group = groups[row]
        if group not in best or score > best[group][1]:
            best[group] = (row, score)
    ranked = sorted(best.items(), key=lambda item: (-item[1][1], item[0]))
    return [(group, row, score) for group, (row, score) in ranked]
