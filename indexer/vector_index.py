"""FAISS inner-product index over unit vectors; it knows row positions only (the id map lives beside it)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import faiss
import numpy as np
import numpy.typing as npt

from indexer.embedders import Vectors
from indexer.keyword_index import Postings


class RowFilter:
    """A set of allowed rows, as a boolean mask for numpy and a FAISS selector (built once, reused)."""

    def __init__(self, mask: npt.NDArray[np.bool_]) -> None:
        self.mask = mask
        self._ids = np.flatnonzero(mask).astype(np.int64)  # the selector reads this buffer: keep it alive
        self.selector = faiss.IDSelectorBatch(self._ids)
        # BM25's scored postings per term over these rows (their statistics are this row set's): the filter lives
        # as long as its audience's searcher, so a term costs its arithmetic once per audience.
        self.keyword_postings: dict[str, Postings] = {}

    @property
    def count(self) -> int:
        return len(self._ids)

    @property
    def rows(self) -> npt.NDArray[np.int64]:
        """The allowed rows, ascending."""
        return self._ids

    @property
    def allows_none(self) -> bool:
        """True when no row is allowed: a search over it can only come back empty."""
        return not len(self._ids)


HNSW_NEIGHBOURS = 32  # links per node: at 384 dimensions, 32 keeps recall@10 above 0.95 with a moderate efSearch
HNSW_EF_CONSTRUCTION = 80
# An audience at most this many rows, and at most this share of the index, is scored exactly in an approximate
# index: its rows are sparse in the graph, so a filtered walk misses its best ones (at 1,000,000 rows and a 0.1 %
# audience, recall@10 fell to 0.91 as efSearch grew), while gathering and scoring them all takes about a millisecond.
SMALL_AUDIENCE_ROWS = 10_000
SMALL_AUDIENCE_SHARE = 0.02


@dataclass(frozen=True)
class VectorOptions:
    """`exact_max_rows`: past this many rows a generation's vectors go into an approximate index (HNSW);
    `ef_search`: how many candidates an approximate search keeps while it walks the graph."""

    exact_max_rows: int = 100_000
    ef_search: int = 256


DEFAULT_OPTIONS = VectorOptions()


class FaissVectorIndex:
    """Exact search (IndexFlatIP) up to `exact_max_rows` rows: fast enough there, and it never misses. Past it,
    HNSW over the same flat storage: a search visits a few thousand rows instead of all of them."""

    def __init__(self, index: Any, ef_search: int = VectorOptions.ef_search) -> None:
        self._index = index
        self._hnsw = isinstance(index, faiss.IndexHNSW)
        self._ef_search = ef_search
        # The flat rows (HNSW keeps its vectors in a flat storage index) as a numpy view, no copy: row lookups are
        # a gather, and a filtered search that HNSW cannot fill falls back to them. It stays valid because an
        # index is never added to after `build`.
        flat: Any = faiss.downcast_index(index.storage) if self._hnsw else index
        self._flat = flat
        size, dimension = int(index.ntotal), int(index.d)
        storage = faiss.rev_swig_ptr(flat.get_xb(), size * dimension) if size else np.zeros(0, np.float32)
        self._matrix: Vectors = np.asarray(storage, dtype=np.float32).reshape(size, dimension)

    @classmethod
    def build(cls, vectors: Vectors, dimension: int, options: VectorOptions = DEFAULT_OPTIONS) -> FaissVectorIndex:
        index: Any
        if len(vectors) > options.exact_max_rows:
            index = faiss.IndexHNSWFlat(dimension, HNSW_NEIGHBOURS, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        else:
            index = faiss.IndexFlatIP(dimension)
        if len(vectors):
            index.add(np.ascontiguousarray(vectors, dtype=np.float32))
        return cls(index, options.ef_search)

    @classmethod
    def load(cls, path: Path, options: VectorOptions = DEFAULT_OPTIONS) -> FaissVectorIndex:
        return cls(faiss.read_index(str(path)), options.ef_search)

    def save(self, path: Path) -> None:
        faiss.write_index(self._index, str(path))

    @property
    def approximate(self) -> bool:
        return self._hnsw

    @property
    def size(self) -> int:
        return int(self._index.ntotal)

    @property
    def dimension(self) -> int:
        return int(self._index.d)

    def _small(self, allowed: RowFilter) -> bool:
        return allowed.count <= min(SMALL_AUDIENCE_ROWS, SMALL_AUDIENCE_SHARE * self.size)

    def vectors(self, rows: npt.NDArray[np.int64]) -> Vectors:
        """The stored vectors of `rows`, so unchanged documents are reused instead of re-embedded."""
        return self._matrix[rows]

    def search(
        self, query: Vectors, k: int, allowed: RowFilter | None = None
    ) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]:
        """Top-`k` (scores, rows) for one query vector among the `allowed` rows (all when None).

        The filter is applied inside FAISS, so a row that is not allowed can neither appear nor take the
        place of an allowed one in the top k. Rows of -1 (fewer than k candidates) are dropped.
        """
        k = min(k, self.size)
        if k <= 0:
            return np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.int64)
        vector = np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32)
        if self._hnsw and allowed is not None and self._small(allowed):
            return _best_among(self._matrix, allowed.rows, vector[0], k)
        if self._hnsw:
            params = faiss.SearchParametersHNSW()  # type: ignore[attr-defined]  # not in the stubs
            params.efSearch = max(self._ef_search, k)
            if allowed is not None:
                params.sel = allowed.selector
            scores, rows = self._index.search(vector, k, params=params)
            # When the walk still finds fewer than k allowed rows, the exact scan over the allowed rows does.
            if allowed is None or (rows[0] >= 0).sum() >= min(k, allowed.count):
                return _kept(scores, rows)
        params = None
        if allowed is not None:
            params = faiss.SearchParameters()
            params.sel = allowed.selector
        scores, rows = self._flat.search(vector, k, params=params)
        return _kept(scores, rows)


def _best_among(
    matrix: Vectors, rows: npt.NDArray[np.int64], vector: Vectors, k: int
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]:
    """The exact top `k` of `rows`: their vectors gathered and scored, best first (ties: lower row first)."""
    scores = matrix[rows] @ vector
    if len(rows) > k:
        top = np.argpartition(-scores, k - 1)[:k]
        rows, scores = rows[top], scores[top]
    order = np.lexsort((rows, -scores))
    return scores[order].astype(np.float32), rows[order].astype(np.int64)


def _kept(
    scores: npt.NDArray[np.float32], rows: npt.NDArray[np.int64]
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]:
    keep = rows[0] >= 0
    return scores[0][keep], rows[0][keep].astype(np.int64)
