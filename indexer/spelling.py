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
from collections.abc import Mapping

from rapidfuzz import process
from rapidfuzz.distance import OSA

from indexer.analysis import WORD

MIN_LENGTH = 4  # shorter words have too many neighbours one edit away
CACHE_SIZE = 4096
MAX_CORRECTIONS = 10  # words looked up per text (cached words are free)


@functools.cache
def english_words() -> frozenset[str]:
    """pyspellchecker's English word list: a real word is never corrected, nor taken for another language."""
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
        # Words by length: a word can only be within `limit` edits of words at most `limit` letters longer or
        # shorter, so a lookup reads a few buckets instead of the whole vocabulary.
        self._by_length: dict[int, list[str]] = {}
        for word in vocabulary:
            self._by_length.setdefault(len(word), []).append(word)
        self._cache: dict[str, str | None] = {}

    def correct(self, text: str) -> str:
        """`text` with each unknown word replaced by the KB word it most likely meant (unchanged otherwise); at most
        `MAX_CORRECTIONS` words are looked up, so a long text of junk costs little."""
        budget = [MAX_CORRECTIONS]

        def fix(match: re.Match[str]) -> str:
            word = match.group(0)
            if budget[0] <= 0:
                return word
            key = word.lower()
            if key not in self._cache and len(key) >= MIN_LENGTH and key not in self._counts:
                budget[0] -= 1
            return self.suggest(word) or word

        return WORD.sub(fix, text)

    def suggest(self, word: str) -> str | None:
        key = word.lower()
        if key in self._cache:
            return self._cache[key]
        found = self._nearest(key)
        if len(self._cache) >= CACHE_SIZE:
            self._cache.clear()
        self._cache[key] = found
        return found

    def _nearest(self, word: str) -> str | None:
        # Non-ASCII words are names or another language ("Müller", "oublié"): the English KB has nothing to say.
        if len(word) < MIN_LENGTH or not word.isascii() or word in self._counts or word in english_words():
            return None
        limit = 1 if len(word) <= 5 else 2
        words = [w for size in range(len(word) - limit, len(word) + limit + 1) for w in self._by_length.get(size, [])]
        found = process.extract(word, words, scorer=OSA.distance, score_cutoff=limit, limit=20)
        if not found:
            return None
        best = min(found, key=lambda m: (m[1], -_shared_prefix(word, m[0]), -self._counts[m[0]], m[0]))
        return str(best[0])
