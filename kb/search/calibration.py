"""Measuring a KB's `Calibration` on its own index, at index time (stored with the generation)."""

from __future__ import annotations

import random
import statistics
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

import numpy as np
import numpy.typing as npt

from indexer.embedders import Embedder, Vectors
from indexer.hybrid import HybridIndex, RowFilter
from kb.search.confidence import CALIBRATION_VERSION, DEFAULT_TITLE_SCORE, Calibration
from kb.search.questions import is_question

# Enough titles for a stable median (its standard error is a few thousandths), few enough to stay a small
# share of indexing time on a large KB.
MAX_TITLES = 300
MIN_TITLE_WORDS = 3
# Fewer stored questions than this say too little about where uncovered questions score: the KB is read as documents.
MIN_QUESTIONS = 10
# The share of uncovered questions the decision should refuse on its own KB: 9 in 10.
UNCOVERED_QUANTILE = 90


class TitleCalibrator:
    """Searches a sample of the KB's titles against its own index (see `Calibration`), with each encoder."""

    version = CALIBRATION_VERSION

    def __init__(self, embedder: Embedder, multilingual: Embedder | None = None) -> None:
        self._embedder = embedder
        self._multilingual = multilingual

    def measure(self, index: HybridIndex) -> Calibration:
        # Only articles meant for everyone take part: the calibration shapes every reader's confidence, so a
        # restricted article must not move it (nor any score an outsider sees).
        public = np.array([not index.docs[chunk.doc_id].get("audience") for chunk in index.chunks], dtype=bool)
        rows_by_title: dict[str, list[int]] = {}
        for position, (chunk, readable) in enumerate(zip(index.chunks, public, strict=True)):
            if readable:
                rows_by_title.setdefault(chunk.title.strip(), []).append(position)
        # Only titles that describe their article: one or two words (a command name, an id, "Lockers") say what
        # the article is called, not what it says, and score low against any text.
        titles = _sample([t for t in rows_by_title if len(t.split()) >= MIN_TITLE_WORDS])
        questions = _sample([t for t in rows_by_title if is_question(t)])
        if not titles and not questions:
            return Calibration()
        sample = _Sample(index, public, rows_by_title, titles, questions)
        title_score, uncovered = sample.measure(self._embedder, index.nearest)
        second = None
        if self._multilingual is not None and index.multilingual:
            second = sample.measure(self._multilingual, index.nearest_multilingual)
        share = sum(map(is_question, rows_by_title)) / len(rows_by_title)
        return Calibration(
            title_score,
            len(titles),
            uncovered,
            len(questions),
            round(share, 4),
            multilingual_title_score=None if second is None else second[0],
            multilingual_question_uncovered=None if second is None else second[1],
        )

    def __call__(self, index: HybridIndex) -> dict[str, Any]:
        return asdict(self.measure(index))


Nearest = Callable[[Vectors, int, RowFilter | None], tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]]


class _Sample:
    """The titles and stored questions one calibration searches, measured the same way with each encoder."""

    def __init__(
        self,
        index: HybridIndex,
        public: npt.NDArray[np.bool_],
        rows_by_title: dict[str, list[int]],
        titles: list[str],
        questions: list[str],
    ) -> None:
        self._index = index
        self._public = public
        self._rows_by_title = rows_by_title
        self._titles = titles
        self._questions = questions

    def measure(self, encoder: Embedder, nearest: Nearest) -> tuple[float, float | None]:
        """(median title score, uncovered score of stored questions or None) with `encoder`'s vectors."""
        texts = sorted(set(self._titles) | set(self._questions))
        vectors = dict(zip(texts, encoder.encode(texts), strict=True))
        allowed = None if self._public.all() else RowFilter(self._public)
        title_score = (
            statistics.median(float(nearest(vectors[t], 1, allowed)[0][0]) for t in self._titles)
            if self._titles
            else DEFAULT_TITLE_SCORE
        )
        uncovered = None
        if len(self._questions) >= MIN_QUESTIONS:
            # Each stored question searched with its own answers hidden (every article of that title: the answers
            # of one thread) is an on-topic question this KB does not cover.
            best = []
            for question in self._questions:
                mask = self._public.copy()
                mask[self._rows_by_title[question]] = False
                scores, _ = nearest(vectors[question], 1, RowFilter(mask))
                best.append(float(scores[0]) if len(scores) else 0.0)
            uncovered = round(float(np.percentile(best, UNCOVERED_QUANTILE)), 4)
        return round(title_score, 4), uncovered


def _sample(titles: list[str]) -> list[str]:
    """At most MAX_TITLES of `titles`, the same ones for the same KB."""
    titles = sorted(titles)
    return random.Random(0).sample(titles, MAX_TITLES) if len(titles) > MAX_TITLES else titles
