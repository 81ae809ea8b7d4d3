"""Measuring a KB's `Calibration` on its own index, at index time (stored with the generation)."""

from __future__ import annotations

import random
import statistics
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from indexer.embedders import Embedder, Vectors
from indexer.hybrid import HybridIndex, RowFilter
from kb.search.confidence import CALIBRATION_VERSION, DEFAULT_TITLE_SCORE, DEFAULT_TITLE_UNCOVERED, Calibration
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
        first = sample.measure(self._embedder, index.nearest, uncovered_titles=True)
        second = None
        if self._multilingual is not None and index.multilingual:  # it reads foreign questions: no uncovered titles
            second = sample.measure(self._multilingual, index.nearest_multilingual, uncovered_titles=False)
        share = sum(map(is_question, rows_by_title)) / len(rows_by_title)
        return Calibration(
            title_score=first.title_score,
            samples=len(titles),
            title_uncovered=first.title_uncovered,
            question_uncovered=first.question_uncovered,
            questions=len(questions),
            question_share=round(share, 4),
            multilingual_title_score=None if second is None else second.title_score,
            multilingual_question_uncovered=None if second is None else second.question_uncovered,
        )

    def __call__(self, index: HybridIndex) -> dict[str, Any]:
        return asdict(self.measure(index))


Nearest = Callable[[Vectors, int, RowFilter | None], tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]]


@dataclass(frozen=True)
class _Measured:
    title_score: float
    title_uncovered: float  # the default when not measured
    question_uncovered: float | None


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

    def measure(self, encoder: Embedder, nearest: Nearest, uncovered_titles: bool) -> _Measured:
        """The titles' median score with their article present (and hidden, if `uncovered_titles`), and the uncovered
        score of stored questions (None when there are too few), with `encoder`'s vectors."""
        texts = sorted(set(self._titles) | set(self._questions))
        vectors = dict(zip(texts, encoder.encode(texts), strict=True))
        allowed = None if self._public.all() else RowFilter(self._public)
        title_score, title_uncovered = DEFAULT_TITLE_SCORE, DEFAULT_TITLE_UNCOVERED
        if self._titles:
            title_score = _median(float(nearest(vectors[t], 1, allowed)[0][0]) for t in self._titles)
            if uncovered_titles:
                hidden = [self._hidden(t, vectors[t], nearest) for t in self._titles]
                # A lone article's title, hidden, meets nothing: it says nothing of where uncovered questions score.
                title_uncovered = _median([score for score in hidden if score is not None] or [DEFAULT_TITLE_UNCOVERED])
        uncovered = None
        if len(self._questions) >= MIN_QUESTIONS:
            # Each stored question searched with its own answers hidden (every article of that title: the answers
            # of one thread) is an on-topic question this KB does not cover.
            best = [self._hidden(question, vectors[question], nearest) or 0.0 for question in self._questions]
            uncovered = round(float(np.percentile(best, UNCOVERED_QUANTILE)), 4)
        return _Measured(title_score, title_uncovered, uncovered)

    def _hidden(self, title: str, vector: Vectors, nearest: Nearest) -> float | None:
        """The best score of `title` with every article of that title hidden (None when nothing else is readable)."""
        mask = self._public.copy()
        mask[self._rows_by_title[title]] = False
        scores, _ = nearest(vector, 1, RowFilter(mask))
        return float(scores[0]) if len(scores) else None


def _median(scores: Iterable[float]) -> float:
    return round(statistics.median(scores), 4)


def _sample(titles: list[str]) -> list[str]:
    """At most MAX_TITLES of `titles`, the same ones for the same KB."""
    titles = sorted(titles)
    return random.Random(0).sample(titles, MAX_TITLES) if len(titles) > MAX_TITLES else titles
