"""How text becomes terms: the one analyser behind BM25 (stemmed terms) and the spelling corrector (words).

Both read the same chunks; keeping their tokenising here means a change to it is made once, and the keyword
index, the corrector and the snippets cannot disagree about what a word is.

Terms depend on the text's language (its stemmer and stop words): a chunk is analysed in its article's language
and a query in the language it was detected in, so a Portuguese question meets a Portuguese translation on
shared stems and its stop words never match English text.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from functools import cache

import Stemmer
from bm25s.stopwords import STOPWORDS_EN

ENGLISH = "en"
_TOKEN = re.compile(r"(?u)\b\w\w+\b")  # bm25s.tokenize's default pattern
# Letters only: digits and underscores are ids and codes, which a spelling correction must never touch.
WORD = re.compile(r"[^\W\d_]+", re.UNICODE)
# ISO 639-1 code -> the Snowball stemmer's name; a language not listed is analysed without stemming.
_STEMMERS = {
    "en": "english",
    "pt": "portuguese",
    "pl": "polish",
    "fr": "french",
    "de": "german",
    "es": "spanish",
    "it": "italian",
    "nl": "dutch",
    "ru": "russian",
    "tr": "turkish",
    "ar": "arabic",
}


class Analyzer:
    """Lower-cased, stop-word-free, stemmed terms of one language."""

    def __init__(self, language: str) -> None:
        self.language = language
        algorithm = _STEMMERS.get(language)
        self._stemmer = Stemmer.Stemmer(algorithm) if algorithm else None
        self.stopwords = _stopwords(language)

    def __call__(self, text: str) -> list[str]:
        words = [w for w in _TOKEN.findall(text.lower()) if w not in self.stopwords]
        if self._stemmer is None:
            return words
        return [t for t in self._stemmer.stemWords(words) if t]


def _stopwords(language: str) -> frozenset[str]:
    # English keeps bm25s's list, so terms match indexes built before languages were told apart.
    if language == ENGLISH:
        return frozenset(STOPWORDS_EN)
    from stop_words import LANGUAGE_MAPPING, get_stop_words

    return frozenset(get_stop_words(language)) if language in LANGUAGE_MAPPING else frozenset()


@cache
def analyzer(language: str = ENGLISH) -> Analyzer:
    """The analyser of `language` (an ISO 639-1 code), built once per process."""
    return Analyzer(language)


def analyze(text: str, language: str = ENGLISH) -> list[str]:
    """Lower-cased, stop-word-free, stemmed terms of `text` read as `language` (bm25s.tokenize's analysis for
    English, without its per-call overhead)."""
    return analyzer(language)(text)


def without_stopwords(text: str, language: str) -> str:
    """`text`'s tokens less `language`'s stop words: a Polish query read as English must not match English text on
    "do" or "na", nor a French one on "de" or "ma"."""
    stopwords = analyzer(language).stopwords
    return " ".join(w for w in _TOKEN.findall(text.lower()) if w not in stopwords)


def word_counts(texts: Iterable[str]) -> dict[str, int]:
    """Lower-cased words (letters only) and how often each occurs: the vocabulary a correction may use."""
    counts: Counter[str] = Counter()
    for text in texts:
        counts.update(word.lower() for word in WORD.findall(text))
    return dict(counts)
