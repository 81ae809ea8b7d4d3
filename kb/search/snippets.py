"""The passage that answers: the best sentences of the best chunk, chosen by the query terms they share."""

from __future__ import annotations

import re
from collections.abc import Sequence

from indexer.analysis import ENGLISH, analyze

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")
_WORDS = re.compile(r"(\w+)")


def sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_END.split(text) if s.strip()]


def best_passage(
    text: str,
    query: str,
    query_language: str = ENGLISH,
    text_language: str = ENGLISH,
    max_chars: int = 280,
) -> tuple[str, list[str]]:
    """The run of sentences with the most query terms (ties: the earliest), and the terms matched; each text is
    analysed in its own language.

    With no shared term the section's opening is the passage: the section itself was chosen for meaning.
    """
    parts = sentences(text)
    if not parts:
        return "", []
    terms = set(analyze(query, query_language))
    counts = [len(terms & set(analyze(s, text_language))) for s in parts]
    start = max(range(len(parts)), key=lambda i: (counts[i], -i))
    passage = parts[start]
    end = start + 1
    while end < len(parts) and len(passage) + 1 + len(parts[end]) <= max_chars:
        passage = f"{passage} {parts[end]}"
        end += 1
    if len(passage) > max_chars:
        passage = passage[: max_chars - 1].rsplit(" ", 1)[0] + "…"
    matched = sorted(terms & set(analyze(passage, text_language)))
    return passage, matched


def marked_words(passage: str, matched: Sequence[str], language: str = ENGLISH) -> list[tuple[str, bool]]:
    """The passage cut into its words and what lies between them, each word marked when its analysed form is one
    of the `matched` terms (as `best_passage` reports them): what a page highlights."""
    terms = set(matched)
    return [
        (token, bool(terms) and token[:1].isalnum() and any(t in terms for t in analyze(token, language)))
        for token in _WORDS.split(passage)
        if token
    ]
