"""BM25 over the same chunks as the vector index, with its statistics taken over the rows a reader may see.

bm25s (used until format 1) stores scores with the corpus-wide idf and average length baked in. A reader
who may not see every article would then get scores shaped by articles hidden from them: a statistical
side channel. So the index keeps raw term frequencies (a sparse chunk x term matrix) and computes BM25
(Lucene's variant, as bm25s does) with the document count, document frequencies and average length of
the allowed rows only. With every row allowed the scores equal bm25s's.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
from scipy import sparse

from indexer.analysis import ENGLISH, analyze

# Lower k1/b than Lucene's defaults suit short help-desk chunks: term repetition and length matter less.
DEFAULT_K1 = 0.9
DEFAULT_B = 0.4

Mask = npt.NDArray[np.bool_]
Scores = npt.NDArray[np.float32]
Postings = tuple[npt.NDArray[np.int32], Scores]  # (rows holding a term, their BM25 share for it)


class Bm25KeywordIndex:
    def __init__(self, frequencies: sparse.csc_array, vocab: dict[str, int], k1: float, b: float) -> None:
        if frequencies.nnz < np.iinfo(np.int32).max:  # int32 row indices: half the bytes of scipy's int64 default
            frequencies.indices = frequencies.indices.astype(np.int32, copy=False)
            frequencies.indptr = frequencies.indptr.astype(np.int32, copy=False)
        self._tf = frequencies  # rows: chunks, columns: terms; CSC so one term's postings are one slice
        self._vocab = vocab
        self._k1 = k1
        self._b = b
        self._lengths = np.asarray(frequencies.sum(axis=1), dtype=np.float32).ravel()
        self._term_postings: dict[str, Postings] = {}  # for all rows; a reader's filter keeps its own

    @property
    def size(self) -> int:
        return int(self._tf.shape[0])

    @classmethod
    def build(
        cls,
        texts: Sequence[str],
        languages: Sequence[str] | None = None,
        k1: float = DEFAULT_K1,
        b: float = DEFAULT_B,
        *,
        previous: Bm25KeywordIndex | None = None,
        reuse: Sequence[int] | None = None,
    ) -> Bm25KeywordIndex:
        """Index `texts`, each analysed in its language (`languages`, parallel to `texts`; English when None).

        With `previous` and `reuse` (for each row, the row of `previous` that holds the same text and language,
        or -1), reused rows take their term frequencies from `previous` unanalysed: a new generation that
        changes one article analyses that article only. BM25's statistics are computed at query time, so
        reused frequencies score exactly as freshly analysed ones."""
        vocab: dict[str, int] = dict(previous._vocab) if previous is not None else {}
        sources = np.asarray(reuse if reuse is not None else [-1] * len(texts), dtype=np.int64)
        rows: list[npt.NDArray[np.int64]] = []
        cols: list[npt.NDArray[np.int64]] = []
        # Term frequencies as uint16 (a chunk repeats a word at most a few hundred times): 6 bytes a stored
        # frequency with its int32 row index instead of 8, which is what the matrix weighs at a million chunks.
        counts: list[npt.NDArray[np.uint16]] = []
        kept = np.flatnonzero(sources >= 0)
        if previous is not None and len(kept):
            taken = sparse.csr_array(previous._tf)[sources[kept]].tocoo()
            rows.append(kept[taken.row])
            cols.append(taken.col.astype(np.int64))
            counts.append(taken.data.astype(np.uint16))
        fresh_rows: list[int] = []
        fresh_cols: list[int] = []
        fresh_counts: list[int] = []
        for row in np.flatnonzero(sources < 0).tolist():
            language = languages[row] if languages is not None else ENGLISH
            for term, count in Counter(analyze(texts[row], language)).items():
                fresh_rows.append(row)
                fresh_cols.append(vocab.setdefault(term, len(vocab)))
                fresh_counts.append(count)
        rows.append(np.asarray(fresh_rows, dtype=np.int64))
        cols.append(np.asarray(fresh_cols, dtype=np.int64))
        counts.append(np.minimum(np.asarray(fresh_counts, dtype=np.int64), np.iinfo(np.uint16).max).astype(np.uint16))
        matrix = sparse.csc_array(
            (np.concatenate(counts), (np.concatenate(rows), np.concatenate(cols))),
            shape=(len(texts), len(vocab)),
        )
        return cls(matrix, vocab, k1, b)

    @classmethod
    def load(cls, folder: Path) -> Bm25KeywordIndex:
        params = json.loads((folder / "params.json").read_text(encoding="utf-8"))
        matrix = sparse.csc_array(sparse.load_npz(folder / "frequencies.npz"))
        return cls(matrix, params["vocab"], params["k1"], params["b"])

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        sparse.save_npz(folder / "frequencies.npz", self._tf, compressed=False)  # zlib would cost a publish 0.25 s
        params = {"k1": self._k1, "b": self._b, "vocab": self._vocab}
        (folder / "params.json").write_text(json.dumps(params), encoding="utf-8")

    def tokens(self, text: str, language: str = ENGLISH) -> list[str]:
        """Stemmed query terms that exist in the vocabulary (unknown terms cannot score)."""
        return [t for t in analyze(text, language) if t in self._vocab]

    def scores(
        self,
        text: str,
        allowed: Mask | None = None,
        cache: dict[str, Postings] | None = None,
        language: str = ENGLISH,
    ) -> Scores:
        """BM25 score of every chunk row for `text`, with statistics over the `allowed` rows (zero elsewhere).

        `cache` keeps each term's scored postings for the same `allowed` rows (for all rows, the index keeps
        its own), so a term costs its arithmetic once, as scores stored at index time would.
        """
        if cache is None:
            cache = self._term_postings if allowed is None else {}
        out = np.zeros(self.size, dtype=np.float32)
        for term in self.tokens(text, language):
            rows, scores = self._cached_postings(term, allowed, cache)
            out[rows] += scores  # a term's rows are distinct, so fancy-index += is exact
        return out

    def ceiling(
        self,
        text: str,
        allowed: Mask | None = None,
        cache: dict[str, Postings] | None = None,
        language: str = ENGLISH,
    ) -> float:
        """The score a chunk would get by holding every query term as well as the best chunk holds each.

        Dividing by it puts BM25 on a [0, 1] scale that means the same on a small and a large corpus
        (unlike dividing by the query's best hit, which always makes someone score 1). It reads the same
        cached postings as `scores`.
        """
        if cache is None:
            cache = self._term_postings if allowed is None else {}
        return sum(
            (
                float(np.max(self._cached_postings(term, allowed, cache)[1], initial=0.0))
                for term in self.tokens(text, language)
            ),
            0.0,
        )

    def _cached_postings(self, term: str, allowed: Mask | None, cache: dict[str, Postings]) -> Postings:
        if term not in cache:
            cache[term] = self._postings(term, allowed, self._stats(allowed))
        return cache[term]

    def _stats(self, allowed: Mask | None) -> tuple[int, float]:
        """(document count, average length) over the allowed rows."""
        lengths = self._lengths if allowed is None else self._lengths[allowed]
        return len(lengths), float(lengths.mean()) if len(lengths) else 1.0

    def _postings(self, term: str, allowed: Mask | None, stats: tuple[int, float]) -> Postings:
        column = self._vocab[term]
        start, end = self._tf.indptr[column], self._tf.indptr[column + 1]
        rows, tf = self._tf.indices[start:end], self._tf.data[start:end]
        if allowed is not None:
            keep = allowed[rows]
            rows, tf = rows[keep], tf[keep]
        count, average_length = stats
        idf = math.log(1.0 + (count - len(rows) + 0.5) / (len(rows) + 0.5))
        norm = self._k1 * (1.0 - self._b + self._b * self._lengths[rows] / average_length)
        return rows, (idf * tf / (tf + norm)).astype(np.float32)
