"""Which language a text is in: queries (to weigh the retrievers and analyse keywords) and articles without a
`language` in their front matter.

lingua, restricted to the languages kb serves (`KB_LANGUAGES`), offline and fast: about 0.3 ms a query with a
handful of languages, where the full set of 75 would cost memory and mistake short queries for rarer languages.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import cache
from typing import Any

from indexer.analysis import ENGLISH, WORD, analyzer
from indexer.spelling import english_words

# The Latin-script languages of the multilingual encoder that employees here write in: the default of KB_LANGUAGES.
DEFAULT_LANGUAGES = ("en", "pt", "pl", "fr", "de", "es", "it", "nl")


@dataclass(frozen=True)
class DetectedLanguage:
    """`code` is an ISO 639-1 code; `confidence` is the detector's probability for it (0 to 1), which it spreads
    over similar languages when a text is short or mixed ("printer offline" could be several); for a text of mostly
    English words, read as English without the detector, the share of its words that are English."""

    code: str
    confidence: float

    @property
    def english(self) -> bool:
        return self.code == ENGLISH

    @property
    def sure(self) -> bool:
        """False when the detector only guessed (a short or mixed text)."""
        return self.confidence >= SURE


UNKNOWN = DetectedLanguage(ENGLISH, 0.0)
# Below this confidence a detection is a guess: its weights are blended with the English ones (kb.search.fusion).
SURE = 0.5
# Short queries fool the detector ("reset password" reads as Italian at 0.51, "printer offline" as German at 0.31):
# a query whose words are mostly English words (this share or more) is read as English, the language of most of the
# KB. Measured on the starter sets and the public ones, this keeps every English set at 98 % or more read as English
# and misreads at most 2 % of the Portuguese, Polish and French questions.
ENGLISH_WORD_SHARE = 0.6
# Acronyms and product names ("vpn", "mfa", "sso") are no word of any language: they do not count either way.
SHORT_NAME = 4
# An article is long enough for the detector to be sure; below this it is read as English (most of the KB), so a
# table of commands or a list of names is never analysed with another language's stemmer.
ARTICLE_CONFIDENCE = 0.6
# The detector reads this much of an article: its language shows long before the end.
ARTICLE_SAMPLE_CHARS = 600


class LanguageDetector:
    """Detects among `languages` (ISO 639-1 codes lingua knows); the models load on first use, once."""

    def __init__(self, languages: tuple[str, ...] = DEFAULT_LANGUAGES) -> None:
        self.languages = languages
        self._detector: Any = None
        self._lock = threading.Lock()

    def _built(self) -> Any:
        if self._detector is None:
            with self._lock:
                if self._detector is None:
                    from lingua import IsoCode639_1, Language, LanguageDetectorBuilder

                    chosen = [
                        Language.from_iso_code_639_1(getattr(IsoCode639_1, code.upper())) for code in self.languages
                    ]
                    self._detector = LanguageDetectorBuilder.from_languages(*chosen).build()
        return self._detector

    def detect(self, text: str) -> DetectedLanguage:
        """The most probable language of `text`; English with no confidence for a text with no letters."""
        if len(self.languages) < 2:
            return DetectedLanguage(self.languages[0] if self.languages else ENGLISH, 1.0)
        # Mostly English words is English whatever the detector says, so it is not asked: the word lookups take a
        # tenth of its time, and a search waits for the language before its English encoder starts.
        if ENGLISH in self.languages and (share := self._english_share(text)) >= ENGLISH_WORD_SHARE:
            return DetectedLanguage(ENGLISH, share)
        values = self._built().compute_language_confidence_values(text)
        if not values or values[0].value <= 0.0:
            return UNKNOWN
        best = values[0]
        return DetectedLanguage(best.language.iso_code_639_1.name.lower(), float(best.value))

    def mostly_english_words(self, text: str) -> bool:
        """Whether `text`'s words are mostly English words, whatever the detector guesses of a short text."""
        return self._english_share(text) >= ENGLISH_WORD_SHARE

    def _english_share(self, text: str) -> float:
        """The share of `text`'s words that are English words and no stop word of the other languages ("door" and
        "de" are English words, and Dutch and French ones)."""
        english, foreign = _word_lists(self.languages)
        words = [
            word
            for word in (w.lower() for w in WORD.findall(text))
            if word in english or word in foreign or not (word.isascii() and len(word) <= SHORT_NAME)
        ]
        return sum(word in english for word in words) / len(words) if words else 0.0


@cache
def _word_lists(languages: tuple[str, ...]) -> tuple[frozenset[str], frozenset[str]]:
    """(English words that are no other language's stop word, the other languages' stop words)."""
    foreign = frozenset(word for code in languages if code != ENGLISH for word in analyzer(code).stopwords)
    return english_words() - foreign, foreign


@cache
def shared_detector(languages: tuple[str, ...] = DEFAULT_LANGUAGES) -> LanguageDetector:
    """One detector per set of languages per process (its models are the memory)."""
    return LanguageDetector(languages)


def article_language(text: str) -> str:
    """The language of an article that does not declare one: the detector's when it is sure, else English."""
    detected = shared_detector().detect(text[:ARTICLE_SAMPLE_CHARS])
    return detected.code if detected.confidence >= ARTICLE_CONFIDENCE else ENGLISH


def known_language(code: str) -> bool:
    """True when lingua can detect `code` (for validating KB_LANGUAGES)."""
    from lingua import IsoCode639_1

    return hasattr(IsoCode639_1, code.upper())
