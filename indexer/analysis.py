"""How text becomes terms: the one analyser behind BM25 (stemmed terms) and the spelling corrector (words).

Both read the same chunks; keeping their tokenising here means a change to it is made once, and the keyword
index, the corrector and the snippets cannot disagree about what a word is.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

import Stemmer
from bm25s.stopwords import STOPWORDS_EN

_stemmer = Stemmer.Stemmer("english")
_TOKEN = re.compile(r"(?u)\b\w\w+\b")  # bm25s.tokenize's default pattern
_STOPWORDS = frozenset(STOPWORDS_EN)
# Letters only: digits and underscores are ids and codes, which a spelling correction must never touch.
WORD = re.compile(r"[^\W\d_]+", re.UNICODE)


def analyze(text: str) -> list[str]:
    """Lower-cased, stop-word-free, stemmed terms (bm25s.tokenize's analysis, without its per-call overhead)."""
    words = [w for w in _TOKEN.findall(text.lower()) if w not in _STOPWORDS]
    return [t for t in _stemmer.stemWords(words) if t]


def word_counts(texts: Iterable[str]) -> dict[str, int]:
    """Lower-cased words (letters only) and how often each occurs: the vocabulary a correction may use."""
    counts: Counter[str] = Counter()
    for text in texts:
        counts.update(word.lower() for word in WORD.findall(text))
    return dict(counts)
