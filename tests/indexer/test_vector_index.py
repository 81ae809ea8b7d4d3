"""The FAISS index and its row filter: exact inner-product search, the filter applied inside FAISS."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from indexer.embedders import Vectors
from indexer.vector_index import FaissVectorIndex, RowFilter, VectorOptions

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


# --- The approximate index past the size threshold --------------------------------------------------------------

APPROXIMATE = VectorOptions(exact_max_rows=1_000, ef_search=64)


def _clustered(rows: int, dimension: int = 48, seed: int = 7) -> Vectors:
    """Unit vectors around 200 topics, as chunks of articles sit around their subjects."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((200, dimension)).astype(np.float32)
    vectors = centres[rng.integers(0, 200, rows)] + 0.6 * rng.standard_normal((rows, dimension)).astype(np.float32)
    unit: Vectors = (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)
    return unit


def test_past_the_threshold_the_index_is_approximate_and_finds_the_exact_top_10() -> None:
    vectors = _clustered(6_000)
    approximate = FaissVectorIndex.build(vectors, 48, APPROXIMATE)
    exact = FaissVectorIndex.build(vectors, 48)
    assert approximate.approximate and not exact.approximate
    queries = _clustered(100, seed=11)
    found = [
        len(set(approximate.search(q, 10)[1].tolist()) & set(exact.search(q, 10)[1].tolist())) / 10 for q in queries
    ]
    assert np.mean(found) >= 0.95


def test_an_approximate_search_keeps_the_filter_inside_faiss() -> None:
    vectors = _clustered(6_000)
    index = FaissVectorIndex.build(vectors, 48, APPROXIMATE)
    mask = np.zeros(6_000, dtype=bool)
    mask[::3] = True  # a large audience: the graph walk fills k by itself
    wide = RowFilter(mask)
    for query in _clustered(20, seed=3):
        _, rows = index.search(query, 10, wide)
        assert len(rows) == 10 and mask[rows].all()


def test_a_small_audience_still_gets_its_nearest_rows_from_an_approximate_index() -> None:
    """A handful of allowed rows are far apart in the graph; the exact scan over them returns them all, best first."""
    vectors = _clustered(6_000)
    index = FaissVectorIndex.build(vectors, 48, APPROXIMATE)
    mask = np.zeros(6_000, dtype=bool)
    mask[[5, 1_234, 4_321, 5_999]] = True
    query = vectors[4_321]
    scores, rows = index.search(query, 10, RowFilter(mask))
    assert sorted(rows.tolist()) == [5, 1_234, 4_321, 5_999]
    assert rows[0] == 4_321 and scores[0] == pytest.approx(1.0, abs=1e-5)


def test_a_small_audience_gets_the_exact_top_k_of_its_rows_from_an_approximate_index() -> None:
    """Small enough (here 100 of 6,000 rows), an audience is scored exactly: the walk through a sparse audience
    finds k of its rows, but not always its best ones."""
    vectors = _clustered(6_000)
    approximate = FaissVectorIndex.build(vectors, 48, APPROXIMATE)
    exact = FaissVectorIndex.build(vectors, 48)
    mask = np.zeros(6_000, dtype=bool)
    mask[np.random.default_rng(5).choice(6_000, 100, replace=False)] = True
    audience = RowFilter(mask)
    for query in _clustered(20, seed=13):
        scores, rows = approximate.search(query, 10, audience)
        expected_scores, expected_rows = exact.search(query, 10, audience)
        assert rows.tolist() == expected_rows.tolist()
        np.testing.assert_allclose(scores, expected_scores, rtol=1e-5)


def test_an_approximate_index_survives_save_and_load_with_its_vectors(tmp_path: Path) -> None:
    vectors = _clustered(2_000)
    FaissVectorIndex.build(vectors, 48, APPROXIMATE).save(tmp_path / "v.faiss")
    loaded = FaissVectorIndex.load(tmp_path / "v.faiss", APPROXIMATE)
    assert loaded.approximate and loaded.size == 2_000
    np.testing.assert_array_equal(loaded.vectors(np.array([0, 1_999])), vectors[[0, 1_999]])
    assert loaded.search(vectors[17], 1)[1].tolist() == [17]
