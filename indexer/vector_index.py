"""FAISS inner-product index over unit vectors; it knows row positions only (the id map lives beside it)."""

from __future__ import annotations

from pathlib import Path
from typing import cast

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
    def allows_none(self) -> bool:
        """True when no row is allowed: a search over it can only come back empty."""
        return not len(self._ids)


class FaissVectorIndex:
    """Exact search (IndexFlatIP): at tens of thousands of chunks it is fast enough and never misses."""

    def __init__(self, index: faiss.IndexFlat) -> None:
        self._index = index
        # A view of the flat index's own storage (no copy): row lookups are a numpy gather. It stays valid
        # because an index is never added to after `build`.
        size, dimension = int(index.ntotal), int(index.d)
        storage = faiss.rev_swig_ptr(index.get_xb(), size * dimension) if size else np.zeros(0, np.float32)
        self._matrix: Vectors = np.asarray(storage, dtype=np.float32).reshape(size, dimension)

    @classmethod
    def build(cls, vectors: Vectors, dimension: int) -> FaissVectorIndex:
        index = faiss.IndexFlatIP(dimension)
        if len(vectors):
            index.add(np.ascontiguousarray(vectors, dtype=np.float32))
        return cls(index)

    @classmethod
    def load(cls, path: Path) -> FaissVectorIndex:
        return cls(cast(faiss.IndexFlat, faiss.read_index(str(path))))  # only flat indexes are written

    def save(self, path: Path) -> None:
        faiss.write_index(self._index, str(path))

    @property
    def size(self) -> int:
        return int(self._index.ntotal)

    @property
    def dimension(self) -> int:
        return int(self._index.d)

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
        params = None
        if allowed is not None:
            params = faiss.SearchParameters()
            params.sel = allowed.selector
        vector = np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32)
        scores, rows = self._index.search(vector, k, params=params)
        keep = rows[0] >= 0
        return scores[0][keep], rows[0][keep].astype(np.int64)
