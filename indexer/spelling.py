"""Query spelling against the KB's own words, so that a one-letter slip finds what the right spelling finds.

The encoder cuts a misspelt word into meaningless pieces and BM25 matches nothing, so "the printr is ofline"
would rank the wrong printer article. A query word is corrected only when it is neither a word of the KB
nor an English word (so "lease" never becomes "leave"), and only into a word of the KB: the nearest by
optimal string alignment (a swap of two letters counts once), then the longest shared prefix (people
drop letters more than they change the first ones), then the most frequent in the KB.
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Iterable, Mapping

from rapidfuzz import process
from rapidfuzz.distance import OSA

_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)
MIN_LENGTH = 4  # shorter words have too many neighbours one edit away
CACHE_SIZE = 4096


def word_counts(texts: Iterable[str]) -> dict[str, int]:
    """Lower-cased words (letters only) and how often each occurs: the vocabulary a correction may use."""
    counts: Counter[str] = Counter()
    for text in texts:
        counts.update(word.lower() for word in _WORD.findall(text))
    return dict(counts)


@functools.cache
def _english() -> frozenset[str]:
    from spellchecker import SpellChecker  # its word list ships inside the package: nothing is downloaded

    return frozenset(SpellChecker(distance=1).word_frequency.keys())


def _shared_prefix(a: str, b: str) -> int:
    count = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        count += 1
    return count


class SpellingCorrector:
    def __init__(self, vocabulary: Mapping[str, int]) -> None:
        self._counts = vocabulary
        self._words = list(vocabulary)
        self._cache: dict[str, str | None] = {}

    def correct(self, text: str) -> str:
        """`text` with each unknown word replaced by the KB word it most likely meant (unchanged otherwise)."""

        def fix(match: re.Match[str]) -> str:
            return self.suggest(match.group(0)) or match.group(0)

        return _WORD.sub(fix, text)

    def suggest(self, word: str) -> str | None:
        key = word.lower()
        if key not in self._cache:
            if len(self._cache) >= CACHE_SIZE:
                self._cache.clear()
            self._cache[key] = self._nearest(key)
        return self._cache[key]

    def _nearest(self, word: str) -> str | None:
        if len(word) < MIN_LENGTH or word in self._counts or word in _english():
            return None
        limit = 1 if len(word) <= 5 else 2
        found = process.extract(word, self._words, scorer=OSA.distance, score_cutoff=limit, limit=20)
        if not found:
            return None
        best = min(found, key=lambda m: (m[1], -_shared_prefix(word, m[0]), -self._counts[m[0]], m[0]))
        return str(best[0])
