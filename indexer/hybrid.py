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

from indexer.analysis import ENGLISH, analyze, without_stopwords, word_counts
from indexer.body_vectors import BodyVectors
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
    """The rows the retrievers found for a query, with every retriever's exact score for each of them, so fusion
    never guesses a missing value."""

    rows: Rows  # sorted, distinct
    dense: Scores  # cosine of each row to the query vector (empty for keyword candidates)
    # The share of the query's attainable BM25 each row holds (see `keyword_share`): 0 to 1 per analysis of the query.
    keyword: Scores
    multilingual: Scores | None = None  # cosine of each row to the query's multilingual vector, when there is one
    # The cosine of each row read by its own text alone (indexer.body_vectors; `dense` where the row has no such
    # vector); None for keyword candidates.
    body: Scores | None = None

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
        multilingual: FaissVectorIndex | None = None,
        body: BodyVectors | None = None,
    ) -> None:
        if not vectors.size == len(chunks) == keywords.size or (multilingual and multilingual.size != len(chunks)):
            raise ValueError(
                f"{vectors.size} vectors, {multilingual.size if multilingual else 'no'} multilingual vectors, "
                f"{keywords.size} keyword rows and {len(chunks)} chunks do not match"
            )
        self._vectors = vectors
        self._multilingual = multilingual
        self._body = body if body is not None else BodyVectors.empty(len(chunks), vectors.dimension)
        self._keywords = keywords
        self.chunks: Sequence[Chunk] = chunks  # row position -> the chunk it holds (the id map)
        self.docs: Mapping[str, dict[str, Any]] = docs  # document id -> its rows, content hash and metadata
        self.meta = meta
        self.generation = generation
        self._vocabulary = vocabulary  # word -> count over the chunks
        self.doc_of_row: Sequence[str] = [chunk.doc_id for chunk in chunks]

    @property
    def multilingual(self) -> bool:
        """True when the generation holds the multilingual encoder's vectors too."""
        return self._multilingual is not None

    @property
    def size(self) -> int:
        """How many rows (chunks) the generation holds."""
        return self._vectors.size

    def chunk(self, row: int) -> Chunk:
        return self.chunks[row]

    @property
    def keywords(self) -> Bm25KeywordIndex:
        """The keyword index (a new generation reuses its unchanged rows' term frequencies)."""
        return self._keywords

    @property
    def vocabulary(self) -> Mapping[str, int]:
        """Word -> count over the English chunks: what a misspelt query word may be corrected to."""
        return self._vocabulary

    def rows_of(self, doc_id: str) -> Rows:
        """The rows holding `doc_id`'s chunks (none for an unknown document)."""
        return np.asarray(self.docs.get(doc_id, {}).get("rows", []), dtype=np.int64)

    def stored_vectors(self, rows: Rows, encoder: int = 0) -> Vectors:
        """The stored vectors of `rows` (`encoder` 0: the English one, 1: the multilingual one), so unchanged
        documents are reused instead of re-embedded."""
        if encoder == 0:
            return self._vectors.vectors(rows)
        if self._multilingual is None:
            raise ValueError(f"generation {self.generation} holds no multilingual vectors")
        return self._multilingual.vectors(rows)

    def body_vector(self, row: int) -> Vectors | None:
        """`row`'s stored text-alone vector (indexer.body_vectors), or None when it has none."""
        return self._body.of(row)

    def row_filter(self, readable: Callable[[Mapping[str, Any]], bool]) -> RowFilter | None:
        """The rows of the documents whose metadata `readable` accepts; None when that is every row."""
        by_doc = {doc_id: readable(meta) for doc_id, meta in self.docs.items()}
        mask = np.array([by_doc.get(doc_id, False) for doc_id in self.doc_of_row], dtype=bool)
        return None if mask.all() else RowFilter(mask)

    def candidates(
        self,
        text: str,
        vector: Vectors,
        allowed: RowFilter | None,
        depth: int,
        *,
        keyword_rows: bool = True,
        multilingual: Vectors | None = None,
        language: str = ENGLISH,
        translated: Sequence[str] = (),
    ) -> Candidates:
        """The `depth` nearest rows to `vector`, to the `multilingual` vector (when given and the generation has
        such vectors) and (with `keyword_rows`) the `depth` best keyword rows for `text` read as `language`, among
        the `allowed` rows (`translated`: see `keyword_share`). Every retriever's score is given for every candidate:
        without `keyword_rows` the keyword scores are still evidence for an answer even when they do not choose
        candidates."""
        _, dense_rows = self._vectors.search(vector, depth, allowed)
        keyword_all = self.keyword_share(text, allowed, language, translated)
        by_keyword = _top_rows(keyword_all, depth) if keyword_rows else np.zeros(0, np.int64)
        rows = np.union1d(dense_rows, by_keyword)
        second = self._multilingual
        if second is not None and multilingual is not None:
            rows = np.union1d(rows, second.search(multilingual, depth, allowed)[1])
        rows = rows.astype(np.int64)
        dense = self._vectors.vectors(rows) @ vector
        return Candidates(
            rows,
            dense,
            keyword_all[rows],
            None if second is None or multilingual is None else second.vectors(rows) @ multilingual,
            self._body.scores(rows, vector, dense),
        )

    def keyword_candidates(
        self, text: str, allowed: RowFilter | None, depth: int, language: str = ENGLISH
    ) -> Candidates:
        """The `depth` best keyword rows for `text` read as `language`, among the `allowed` rows (no dense scores)."""
        keyword_all = self.keyword_share(text, allowed, language)
        rows = _top_rows(keyword_all, depth)
        return Candidates(rows, np.zeros(0, np.float32), keyword_all[rows])

    def keyword_share(
        self, text: str, allowed: RowFilter | None, language: str = ENGLISH, translated: Sequence[str] = ()
    ) -> Scores:
        """Each row's BM25 for `text` divided by the query's ceiling (the score of a row holding every query term as
        well as the best row holds each): the share of the attainable keyword evidence, on one scale whatever the
        KB's size. A query in another language is read twice, in its language and in English, and the shares add
        up: its product names, commands and borrowed words ("VPN", "Outlook", `git`) meet English text as English,
        its own words meet articles written in its language. `translated` are English words for its other words
        (indexer.lexicon), a third reading: "drukarka" meets "printer"."""
        mask, cache = (None, None) if allowed is None else (allowed.mask, allowed.keyword_postings)
        total = np.zeros(self.size, dtype=np.float32)
        readings = [(language, text)]
        if language != ENGLISH:
            readings.append((ENGLISH, without_stopwords(text, language)))
            if translated:
                readings.append((ENGLISH, " ".join(translated)))
        for analysis, read in readings:
            ceiling = self._keywords.ceiling(read, mask, cache, analysis)
            if ceiling > 0:
                total += self._keywords.scores(read, mask, cache, analysis) / np.float32(ceiling)
        return total

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

    def nearest_multilingual(self, vector: Vectors, k: int, allowed: RowFilter | None = None) -> tuple[Scores, Rows]:
        """Top-`k` (scores, rows) by the multilingual encoder's cosine (none without its vectors)."""
        if self._multilingual is None:
            return np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.int64)
        return self._multilingual.search(vector, k, allowed)

    def term_coverage(self, text: str, row: int, language: str = ENGLISH) -> float:
        """The share of `text`'s terms that `row`'s chunk holds (0 for a text without terms)."""
        terms = set(analyze(text, language))
        chunk_language = self.docs.get(self.doc_of_row[row], {}).get("language") or ENGLISH
        found = terms & set(analyze(self.chunks[row].embedding_text, chunk_language))
        return len(found) / len(terms) if terms else 0.0

    def corrector(self, allowed: RowFilter | None) -> SpellingCorrector:
        """A spelling corrector over the words of the `allowed` rows: a hidden article's words are never suggested."""
        return SpellingCorrector(self.readable_vocabulary(allowed))

    def readable_vocabulary(self, allowed: RowFilter | None) -> Mapping[str, int]:
        """The KB's English word counts less the words of the rows `allowed` hides (None hides none). Hidden rows are
        restricted articles' (usually a small share), so this costs their words, not a pass over the whole KB."""
        if allowed is None:
            return self._vocabulary
        counts = Counter(self._vocabulary)
        for row in np.flatnonzero(~allowed.mask):
            if self.docs.get(self.doc_of_row[int(row)], {}).get("language", ENGLISH) == ENGLISH:
                counts.subtract(word_counts([self.chunks[int(row)].embedding_text]))
        return {word: count for word, count in counts.items() if count > 0}
