"""Plain records in, retrieval chunks out: one chunk per section, long sections split with overlap."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class SourceRecord:
    """One section of a document, as the caller's domain sees it."""

    doc_id: str
    title: str
    section: str
    text: str


@dataclass(frozen=True)
class Chunk:
    """The unit that is embedded, keyword-indexed and returned as the passage that answers."""

    doc_id: str
    title: str
    section: str
    text: str

    @property
    def body(self) -> str:
        """What the chunk says without its title: its section heading and text ("" when it has neither)."""
        return ". ".join(part for part in (self.section, self.text) if part)

    @property
    def embedding_text(self) -> str:
        # The title carries most of the topic; prepending it lets a short section ("Restart the router")
        # still be found by what the article is about.
        return f"{self.title}. {self.body}" if self.body else self.title


def _windows(words: list[str], size: int, overlap: int) -> Iterator[list[str]]:
    step = max(1, size - overlap)
    start = 0
    while True:
        yield words[start : start + size]
        if start + size >= len(words):
            return
        start += step


def chunk_records(records: Iterable[SourceRecord], max_words: int = 160, overlap: int = 40) -> list[Chunk]:
    """Split each record into chunks of at most `max_words` words, consecutive ones sharing `overlap`."""
    overlap = min(overlap, max_words - 1)
    chunks: list[Chunk] = []
    for record in records:
        words = record.text.split()
        if not words:
            chunks.append(Chunk(record.doc_id, record.title, record.section, ""))
            continue
        for window in _windows(words, max_words, overlap):
            chunks.append(Chunk(record.doc_id, record.title, record.section, " ".join(window)))
    return chunks
