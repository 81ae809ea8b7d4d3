"""Fusion and grouping: each retriever's evidence adds to the dense score by its weight; an article shows once."""

from __future__ import annotations

import numpy as np
import pytest

from kb.language import SURE, DetectedLanguage
from kb.search.fusion import FusionWeights, LanguageWeights, best_per_group, fuse


def test_fuse_adds_the_weighted_keyword_share_to_the_dense_score() -> None:
    dense = np.array([0.5, 0.4], dtype=np.float32)
    keyword = np.array([0.5, 1.0], dtype=np.float32)
    fused = fuse(dense, keyword, FusionWeights(keyword=0.3))
    np.testing.assert_allclose(fused, [0.5 + 0.3 * 0.5, 0.4 + 0.3 * 1.0], rtol=1e-6)
    assert fused.dtype == np.float32


def test_fuse_adds_the_weighted_multilingual_cosine() -> None:
    dense = np.array([0.5, 0.4], dtype=np.float32)
    multilingual = np.array([0.2, 0.6], dtype=np.float32)
    fused = fuse(dense, np.zeros(2, dtype=np.float32), FusionWeights(multilingual=0.5, keyword=0.0), multilingual)
    np.testing.assert_allclose(fused, [0.5 + 0.5 * 0.2, 0.4 + 0.5 * 0.6], rtol=1e-6)


def test_fuse_adds_the_text_alone_cosine_to_the_titled_one_by_the_english_weight() -> None:
    dense = np.array([0.6, 0.6], dtype=np.float32)
    body = np.array([0.2, 0.5], dtype=np.float32)  # two sections under one title: read alone, the second fits
    no_keywords = np.zeros(2, dtype=np.float32)
    fused = fuse(dense, no_keywords, FusionWeights(dense=0.5, keyword=0.0, body=0.4), body=body)
    np.testing.assert_allclose(fused, [0.5 * (0.6 + 0.4 * 0.2), 0.5 * (0.6 + 0.4 * 0.5)], rtol=1e-6)
    # Without text-alone scores the titled cosine stands for both readings.
    alone = fuse(dense, no_keywords, FusionWeights(dense=0.5, keyword=0.0, body=0.4))
    np.testing.assert_allclose(alone, [0.5 * 1.4 * 0.6] * 2, rtol=1e-6)


def test_fuse_without_keyword_evidence_is_the_dense_score() -> None:
    dense = np.array([0.7, 0.2], dtype=np.float32)
    fused = fuse(dense, np.zeros(2, dtype=np.float32), FusionWeights())
    np.testing.assert_array_equal(fused, dense)


def test_language_weights_blend_toward_the_english_ones_when_the_detector_only_guesses() -> None:
    weights = LanguageWeights(english=FusionWeights(1.0, 0.0, 0.4), other=FusionWeights(0.0, 1.0, 0.2))
    assert weights.of(DetectedLanguage("en", 0.4)) == weights.english
    assert weights.of(DetectedLanguage("pl", SURE)) == weights.other
    assert weights.of(DetectedLanguage("pl", 0.9)) == weights.other
    half = weights.of(DetectedLanguage("pt", SURE / 2))
    assert (half.dense, half.multilingual, half.keyword) == pytest.approx((0.5, 0.5, 0.3))


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
