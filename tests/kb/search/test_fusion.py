"""Fusion and grouping: keyword evidence adds to the dense score on the query's own scale; an article shows once."""

from __future__ import annotations

import numpy as np
import pytest

from kb.search.fusion import FusionWeights, best_per_group, fuse


def test_fuse_adds_the_keyword_share_of_the_ceiling_to_the_dense_score() -> None:
    dense = np.array([0.5, 0.4], dtype=np.float32)
    keyword = np.array([2.0, 4.0], dtype=np.float32)
    fused = fuse(dense, keyword, 4.0, FusionWeights(keyword=0.3))
    np.testing.assert_allclose(fused, [0.5 + 0.3 * 0.5, 0.4 + 0.3 * 1.0], rtol=1e-6)
    assert fused.dtype == np.float32


def test_fuse_without_keyword_evidence_is_the_dense_score() -> None:
    dense = np.array([0.7, 0.2], dtype=np.float32)
    fused = fuse(dense, np.zeros(2, dtype=np.float32), 0.0, FusionWeights())
    np.testing.assert_array_equal(fused, dense)


def test_best_per_group_keeps_each_groups_best_row_best_first() -> None:
    rows = np.array([0, 1, 2, 3], dtype=np.int64)
    scores = np.array([0.2, 0.9, 0.5, 0.4], dtype=np.float32)
    groups = ["a", "a", "b", "c"]
    ranked = best_per_group(rows, scores, groups)
    assert [(group, row) for group, row, _ in ranked] == [("a", 1), ("b", 2), ("c", 3)]
    assert ranked[0][2] == pytest.approx(0.9)


def test_best_per_group_breaks_ties_by_group_name() -> None:
    rows = np.array([0, 1], dtype=np.int64)
    scores = np.array([0.5, 0.5], dtype=np.float32)
    assert [group for group, _, _ in best_per_group(rows, scores, ["zeta", "alpha"])] == ["alpha", "zeta"]
