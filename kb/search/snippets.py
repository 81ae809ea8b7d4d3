"""The passage that answers: the best sentences of the best chunk, chosen by the query terms they share."""

from __future__ import annotations

import re

from indexer.analysis import ENGLISH, analyze

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")


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
