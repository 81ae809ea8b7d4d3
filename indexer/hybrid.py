"""The read side of one index generation: dense and keyword candidates, the id map and the documents' metadata.

The searcher asks this object for candidates and never touches FAISS, BM25 or the row layout itself, so a change
to how candidates are found (another vector index, another keyword scorer) is made here and nowhere else.
Ranking, grouping and the answer decision are the searcher's (kb.search).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from indexer.analysis import analyze, word_counts
from indexer.chunking import Chunk
from indexer.embedders import Vectors
from indexer.keyword_index import Bm25KeywordIndex
from indexer.spelling import SpellingCorrector
from indexer.vector_index import FaissVectorIndex, RowFilter

__all__ = ["Candidates", "HybridIndex", "RowFilter", "SpellingCorrector"]

Rows = npt.NDArray[np.int64]
Scores = npt.NDArray[np.float32]


@dataclass(frozen=True)
class Candidates:
    """The rows either retriever found for a query, with both retrievers' exact scores for each of them, so
    fusion never guesses a missing value."""

    rows: Rows  # sorted, distinct
    dense: Scores  # cosine of each row to the query vector (empty for keyword candidates)
    keyword: Scores  # BM25 of each row, statistics over the allowed rows
    keyword_ceiling: float  # the BM25 a row holding every query term as well as the best row would get

    def position(self, row: int) -> int:
        """Where `row` sits in `rows` (it must be one of them)."""
        return int(np.searchsorted(self.rows, row))


def _top_rows(scores: Scores, k: int) -> Rows:
    """Rows of the `k` highest positive scores, in no particular order."""
    rows = np.flatnonzero(scores)
    if len(rows) > k:
        rows = rows[np.argpartition(-scores[rows], k - 1)[:k]]
    return rows.astype(np.int64)


class HybridIndex:
    """A generation loaded into memory, ready to search (built by indexer.load, or by indexer.build for the
    calibration of a generation before it goes live)."""

    def __init__(
        self,
        vectors: FaissVectorIndex,
        keywords: Bm25KeywordIndex,
        chunks: list[Chunk],
        docs: dict[str, dict[str, Any]],
        meta: dict[str, Any],
        generation: str,
        vocabulary: dict[str, int],
    ) -> None:
        if not vectors.size == len(chunks) == keywords.size:
            raise ValueError(
                f"{vectors.size} vectors, {keywords.size} keyword rows and {len(chunks)} chunks do not match"
            )
        self._vectors = vectors
        self._keywords = keywords
        self.chunks: Sequence[Chunk] = chunks  # row position -> the chunk it holds (the id map)
        self.docs: Mapping[str, dict[str, Any]] = docs  # document id -> its rows, content hash and metadata
        self.meta = meta
        self.generation = generation
        self._vocabulary = vocabulary  # word -> count over the chunks
        self.doc_of_row: Sequence[str] = [chunk.doc_id for chunk in chunks]

    @property
    def size(self) -> int:
        """How many rows (chunks) the generation holds."""
        return self._vectors.size

    def chunk(self, row: int) -> Chunk:
        return self.chunks[row]

    def rows_of(self, doc_id: str) -> Rows:
        """The rows holding `doc_id`'s chunks (none for an unknown document)."""
        return np.asarray(self.docs.get(doc_id, {}).get("rows", []), dtype=np.int64)

    def stored_vectors(self, rows: Rows) -> Vectors:
        """The stored vectors of `rows`, so unchanged documents are reused instead of re-embedded."""
        return self._vectors.vectors(rows)

    def row_filter(self, readable: Callable[[Mapping[str, Any]], bool]) -> RowFilter | None:
        """The rows of the documents whose metadata `readable` accepts; None when that is every row."""
        by_doc = {doc_id: readable(meta) for doc_id, meta in self.docs.items()}
        mask = np.array([by_doc.get(doc_id, False) for doc_id in self.doc_of_row], dtype=bool)
        return None if mask.all() else RowFilter(mask)

    def candidates(
        self, text: str, vector: Vectors, allowed: RowFilter | None, depth: int, *, keyword_rows: bool = True
    ) -> Candidates:
        """The `depth` nearest rows to `vector` and (with `keyword_rows`) the `depth` best BM25 rows for `text`,
        among the `allowed` rows. Without `keyword_rows` the keyword scores are still given for the dense rows:
        they are evidence for an answer even when they do not choose candidates."""
        _, dense_rows = self._vectors.search(vector, depth, allowed)
        mask, cache = (None, None) if allowed is None else (allowed.mask, allowed.keyword_postings)
        keyword_all = self._keywords.scores(text, mask, cache)
        ceiling = self._keywords.ceiling(text, mask, cache)
        by_keyword = _top_rows(keyword_all, depth) if keyword_rows else np.zeros(0, np.int64)
        rows = np.union1d(dense_rows, by_keyword).astype(np.int64)
        return Candidates(rows, self._vectors.vectors(rows) @ vector, keyword_all[rows], ceiling)

    def keyword_candidates(self, text: str, allowed: RowFilter | None, depth: int) -> Candidates:
        """The `depth` best BM25 rows for `text` among the `allowed` rows (no dense scores)."""
        mask, cache = (None, None) if allowed is None else (allowed.mask, allowed.keyword_postings)
        keyword_all = self._keywords.scores(text, mask, cache)
        rows = _top_rows(keyword_all, depth)
        return Candidates(rows, np.zeros(0, np.float32), keyword_all[rows], 0.0)

    def nearest(self, vector: Vectors, k: int, allowed: RowFilter | None = None) -> tuple[Scores, Rows]:
        """Top-`k` (scores, rows) by cosine to `vector` among the `allowed` rows."""
        return self._vectors.search(vector, k, allowed)

    def neighbours(self, doc_id: str, allowed: RowFilter | None, depth: int) -> tuple[Scores, Rows]:
        """The `depth` rows nearest to the mean of `doc_id`'s chunk vectors, among the `allowed` rows of other
        documents; empty when the document has no rows or nothing else is allowed."""
        own = self.rows_of(doc_id)
        empty = (np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.int64))
        if not len(own):
            return empty
        mask = np.ones(self.size, dtype=bool) if allowed is None else allowed.mask.copy()
        mask[own] = False
        if not mask.any():
            return empty
        centroid = self._vectors.vectors(own).mean(axis=0)
        centroid /= max(float(np.linalg.norm(centroid)), 1e-12)
        return self._vectors.search(centroid, depth, RowFilter(mask))

    def term_coverage(self, text: str, row: int) -> float:
        """The share of `text`'s terms that `row`'s chunk holds (0 for a text without terms)."""
        terms = set(analyze(text))
        found = terms & set(analyze(self.chunks[row].embedding_text))
        return len(found) / len(terms) if terms else 0.0

    def corrector(self, allowed: RowFilter | None) -> SpellingCorrector:
        """A spelling corrector over the words of the `allowed` rows: a hidden article's words are never suggested."""
        return SpellingCorrector(self._vocabulary if allowed is None else self._readable_vocabulary(allowed))

    def _readable_vocabulary(self, allowed: RowFilter) -> dict[str, int]:
        """The KB's word counts less the words of the rows `allowed` hides. Hidden rows are restricted articles'
        (usually a small share), so this costs their words, not a pass over the whole KB."""
        counts = Counter(self._vocabulary)
        for row in np.flatnonzero(~allowed.mask):
            counts.subtract(word_counts([self.chunks[int(row)].embedding_text]))
        return {word: count for word, count in counts.items() if count > 0}
