"""English keywords for a question in another language, read off the multilingual encoder's word vectors.

BM25 cannot match "drukarka" with "printer", so keyword evidence for a Polish question about an English article
used to come from product names alone. The multilingual encoder maps single words across languages too (on the
starter KB: "hasło" → password 0.77, "dostawca" → supplier 0.90, "drzwi" → doors 0.91, while "pierogi" or
"pogoda" reach no English word of the KB above 0.6), so each content word of the question is given the English
word of the KB nearest to it, when it is near enough. This is dictionary-based query translation with a dictionary
induced from the encoder and limited to the KB's own words: a translated word either meets the KB's text or adds
nothing.

The words are those of the articles meant for everyone (`HybridIndex.readable_vocabulary`, as the searcher builds
it): a restricted article's word must not decide what another reader's question is read as, through the translated
words or the English reading the English encoder encodes.
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from indexer.analysis import ENGLISH, WORD, analyzer
from indexer.embedders import Embedder, Vectors

# Measured on the starter KB's vocabulary: right translations score 0.75-0.92 (password, login, payment, supplier,
# printer, fridge), false friends and unrelated nearest words 0.50-0.70 ("pasek" → zloty 0.65, "urlop" → trips
# 0.66). Chosen from those pairs; on the starter pt/pl/fr questions any value from 0.68 to 0.80 moves nDCG@10 by
# 0.03 at most.
MIN_COSINE = 0.72
MIN_LETTERS = 3  # shorter words ("do", "na", "mi") are stop words or ambiguous abbreviations
WORD_CACHE = 20_000  # query words recur ("hasło", "imprimante"): each is encoded once per generation


@dataclass(frozen=True)
class Translation:
    """A question in another language read in the KB's English words."""

    translated: list[str]  # the English words given to its other words, in their order (a keyword reading)
    english: str  # the question as English words: its own English words and the translated ones, in its order


@dataclass(frozen=True)
class _WordVectors:
    """A vocabulary's words (word -> row) and their vectors, as one translator computed them."""

    rows: dict[str, int]
    vectors: Vectors


# The latest vectors computed with each encoder: a new generation (every publish makes one) encodes only the words
# its vocabulary gained, not the whole vocabulary again. Weak keys: a discarded encoder takes its vectors with it.
_LATEST: weakref.WeakKeyDictionary[Embedder, _WordVectors] = weakref.WeakKeyDictionary()
_LATEST_LOCK = threading.Lock()


class WordTranslator:
    """The KB's English words and their multilingual vectors, computed on first use (one encoder batch: about 0.4 s
    for the starter KB's 2,000 words; then only the words a new generation adds) and kept for the generation's
    life (2 kB a word)."""

    def __init__(self, vocabulary: Mapping[str, int], encoder: Embedder) -> None:
        self._english = frozenset(vocabulary)
        # English stop words are no keywords: "ze" → "the" would add nothing but a wasted term.
        english_stopwords = analyzer(ENGLISH).stopwords
        self._words = sorted(w for w in vocabulary if len(w) >= MIN_LETTERS and w not in english_stopwords)
        self._encoder = encoder
        self._vectors: Vectors | None = None
        self._seen: OrderedDict[str, str | None] = OrderedDict()
        self._lock = threading.Lock()

    def translate(self, text: str, language: str) -> Translation:
        """`text` (read as `language`) in the KB's English words: each content word that is not English already is
        given the KB's English word nearest to it, when that one is near enough."""
        stopwords = analyzer(language).stopwords
        words = [
            w
            for w in dict.fromkeys(word.lower() for word in WORD.findall(text))
            if len(w) >= MIN_LETTERS and w not in stopwords
        ]
        foreign = [w for w in words if w not in self._english]
        given = self._given(foreign) if foreign and self._words else {}
        english = [w if w in self._english else given.get(w) for w in words]
        return Translation(
            translated=[english_word for w in foreign if (english_word := given.get(w))],
            english=" ".join(w for w in english if w),
        )

    def _given(self, words: list[str]) -> dict[str, str | None]:
        with self._lock:
            missing = [w for w in words if w not in self._seen]
            if missing:
                self._learn(missing)
            for word in words:
                self._seen.move_to_end(word)
            return {w: self._seen[w] for w in words}

    def _learn(self, words: list[str]) -> None:
        if self._vectors is None:
            self._vectors = self._vocabulary_vectors()
        cosines = self._encoder.encode(words) @ self._vectors.T
        best = cosines.argmax(axis=1)
        for word, column, row in zip(words, best.tolist(), cosines, strict=True):
            self._seen[word] = self._words[column] if float(row[column]) >= MIN_COSINE else None
        while len(self._seen) > WORD_CACHE:
            self._seen.popitem(last=False)

    def _vocabulary_vectors(self) -> Vectors:
        with _LATEST_LOCK:
            latest = _LATEST.get(self._encoder)
        known, earlier = (latest.rows, latest.vectors) if latest is not None else ({}, None)
        new = [w for w in self._words if w not in known]
        fresh = dict(zip(new, self._encoder.encode(new), strict=True)) if new else {}
        vectors = np.empty((len(self._words), self._encoder.dimension), dtype=np.float32)
        for position, word in enumerate(self._words):
            vectors[position] = fresh[word] if earlier is None or word in fresh else earlier[known[word]]
        with _LATEST_LOCK:
            _LATEST[self._encoder] = _WordVectors({w: i for i, w in enumerate(self._words)}, vectors)
        return vectors
