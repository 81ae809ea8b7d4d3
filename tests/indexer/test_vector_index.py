"""The FAISS index and its row filter: exact inner-product search, the filter applied inside FAISS."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from indexer.vector_index import FaissVectorIndex, RowFilter

VECTORS = np.eye(4, dtype=np.float32)


def test_search_returns_the_nearest_rows_best_first() -> None:
    index = FaissVectorIndex.build(VECTORS, 4)
    query = np.array([0.1, 0.9, 0.3, 0.0], dtype=np.float32)
    scores, rows = index.search(query, 2)
    assert rows.tolist() == [1, 2]
    np.testing.assert_allclose(scores, [0.9, 0.3], rtol=1e-6)


def test_a_filtered_row_neither_appears_nor_takes_a_place() -> None:
    index = FaissVectorIndex.build(VECTORS, 4)
    allowed = RowFilter(np.array([True, False, True, True]))
    _, rows = index.search(np.array([0.1, 0.9, 0.3, 0.0], dtype=np.float32), 2, allowed)
    assert rows.tolist() == [2, 0]


def test_fewer_allowed_rows_than_asked_for_are_all_returned() -> None:
    index = FaissVectorIndex.build(VECTORS, 4)
    _, rows = index.search(VECTORS[0], 3, RowFilter(np.array([False, False, True, False])))
    assert rows.tolist() == [2]


def test_a_filter_that_allows_nothing_says_so() -> None:
    assert RowFilter(np.zeros(3, dtype=bool)).allows_none
    assert not RowFilter(np.array([False, True, False])).allows_none


def test_stored_vectors_and_save_load(tmp_path: Path) -> None:
    index = FaissVectorIndex.build(VECTORS, 4)
    np.testing.assert_array_equal(index.vectors(np.array([3, 1], dtype=np.int64)), VECTORS[[3, 1]])
    index.save(tmp_path / "vectors.faiss")
    loaded = FaissVectorIndex.load(tmp_path / "vectors.faiss")
    assert (loaded.size, loaded.dimension) == (4, 4)
    np.testing.assert_array_equal(loaded.vectors(np.arange(4, dtype=np.int64)), VECTORS)


def test_an_empty_index_finds_nothing() -> None:
    index = FaissVectorIndex.build(np.zeros((0, 4), dtype=np.float32), 4)
    scores, rows = index.search(VECTORS[0], 5)
    assert index.size == 0
    assert len(scores) == len(rows) == 0
