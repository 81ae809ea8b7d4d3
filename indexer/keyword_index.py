"""BM25 over the same chunks as the vector index (bm25s: sparse matrices, tunable k1/b, saves to a folder)."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from pathlib import Path

import bm25s
import numpy as np
import numpy.typing as npt
import Stemmer
from bm25s.stopwords import STOPWORDS_EN

# Lower k1/b than Lucene's defaults suit short help-desk chunks: term repetition and length matter less.
DEFAULT_K1 = 0.9
DEFAULT_B = 0.4

logging.getLogger("bm25s").setLevel(logging.WARNING)


_stemmer = Stemmer.Stemmer("english")
_TOKEN = re.compile(r"(?u)\b\w\w+\b")  # bm25s.tokenize's default pattern
_STOPWORDS = frozenset(STOPWORDS_EN)


def analyze(text: str) -> list[str]:
    """Lower-cased, stop-word-free, stemmed terms: the analysis bm25s.tokenize applies to chunks.

    Done by hand on the query path because bm25s.tokenize builds progress-bar objects on every call
    (about 40 µs), which adds up over the snippet's sentences.
    """
    words = [w for w in _TOKEN.findall(text.lower()) if w not in _STOPWORDS]
    return [t for t in _stemmer.stemWords(words) if t]


class Bm25KeywordIndex:
    def __init__(self, retriever: bm25s.BM25, size: int) -> None:
        self._retriever = retriever
        self._size = size
        self._term_ceiling: dict[str, float] = {}

    @classmethod
    def build(cls, texts: Sequence[str], k1: float = DEFAULT_K1, b: float = DEFAULT_B) -> Bm25KeywordIndex:
        retriever = bm25s.BM25(k1=k1, b=b)
        # bm25s cannot index an empty corpus; one placeholder document keeps the shapes valid (and its
        # scores are cut off by `size`).
        corpus = list(texts) or ["placeholder"]
        tokens = bm25s.tokenize(corpus, stemmer=_stemmer, show_progress=False)
        retriever.index(tokens, show_progress=False)
        return cls(retriever, len(texts))

    @classmethod
    def load(cls, folder: Path, size: int) -> Bm25KeywordIndex:
        return cls(bm25s.BM25.load(str(folder)), size)

    def save(self, folder: Path) -> None:
        self._retriever.save(str(folder), show_progress=False)

    def tokens(self, text: str) -> list[str]:
        """Stemmed query terms that exist in the vocabulary (unknown terms cannot score)."""
        vocab = self._retriever.vocab_dict
        return [t for t in analyze(text) if t in vocab]

    def scores(self, text: str) -> npt.NDArray[np.float32]:
        """BM25 score of every chunk row for `text` (zeros when no query term is known)."""
        terms = self.tokens(text)
        if not terms or self._size == 0:
            return np.zeros(self._size, dtype=np.float32)
        return np.asarray(self._retriever.get_scores(terms), dtype=np.float32)[: self._size]

    def ceiling(
        self, text: str, allowed: npt.NDArray[np.bool_] | None = None, cache: dict[str, float] | None = None
    ) -> float:
        """The score a chunk would get by holding every query term as well as the best chunk holds each.

        Dividing by it puts BM25 on a [0, 1] scale that means the same on a small and a large corpus
        (unlike dividing by the query's best hit, which always makes someone score 1). With `allowed`, only
        those rows count: a word that only hidden chunks hold must not move a reader's scores. `cache` holds
        per-term results for that same set of rows.
        """
        if cache is None:
            cache = self._term_ceiling if allowed is None else {}
        total = 0.0
        for term in self.tokens(text):
            if term not in cache:
                scores = self._retriever.get_scores([term])[: self._size]
                cache[term] = float(np.max(scores if allowed is None else scores[allowed], initial=0.0))
            total += cache[term]
        return total
