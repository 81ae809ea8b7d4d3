"""BM25 with statistics over the allowed rows: equal to an index of those rows alone."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from indexer.keyword_index import Bm25KeywordIndex

TEXTS = [
    "The VPN drops every few minutes on hotel wifi",
    "Reset your VPN password from the self-service portal",
    "The printer on the third floor says it is offline",
    "Payroll bonus calibration for the quarter: the printer queue locks",
    "Expense claims for a taxi need a receipt photo",
    "Hotel bookings for business travel go through the travel desk",
]
QUERIES = ["vpn hotel wifi", "printer offline", "payroll printer queue", "taxi receipt receipt", "quokka"]


@pytest.mark.parametrize("query", QUERIES)
@pytest.mark.parametrize("hidden", [[3], [0, 5], [1, 2, 4]])
def test_scores_over_allowed_rows_equal_an_index_without_the_hidden_rows(query: str, hidden: list[int]) -> None:
    full = Bm25KeywordIndex.build(TEXTS)
    allowed = np.ones(len(TEXTS), dtype=bool)
    allowed[hidden] = False
    alone = Bm25KeywordIndex.build([t for i, t in enumerate(TEXTS) if i not in hidden])

    masked = full.scores(query, allowed)
    np.testing.assert_array_equal(masked[~allowed], 0.0)
    np.testing.assert_allclose(masked[allowed], alone.scores(query), rtol=1e-6)
    assert full.ceiling(query, allowed) == pytest.approx(alone.ceiling(query), rel=1e-6)


def test_hidden_rows_change_what_the_full_corpus_would_score() -> None:
    """The guard above is meaningful: with corpus-wide statistics the visible scores would differ."""
    full = Bm25KeywordIndex.build(TEXTS)
    alone = Bm25KeywordIndex.build(TEXTS[:3] + TEXTS[4:])
    assert not np.allclose(np.delete(full.scores("printer offline"), 3), alone.scores("printer offline"))


def test_scores_rank_the_matching_chunk_first_and_unknown_words_score_nothing() -> None:
    index = Bm25KeywordIndex.build(TEXTS)
    assert int(np.argmax(index.scores("vpn wifi hotel"))) == 0
    assert not index.scores("quokka").any()
    assert index.ceiling("quokka") == 0.0


def test_save_and_load_keep_the_scores(tmp_path: Path) -> None:
    index = Bm25KeywordIndex.build(TEXTS)
    index.save(tmp_path / "keyword")
    loaded = Bm25KeywordIndex.load(tmp_path / "keyword")
    for query in QUERIES:
        np.testing.assert_array_equal(loaded.scores(query), index.scores(query))


def test_an_empty_corpus_scores_nothing() -> None:
    index = Bm25KeywordIndex.build([])
    assert index.scores("vpn").shape == (0,)
    assert index.ceiling("vpn") == 0.0


def test_cached_term_postings_give_the_same_scores() -> None:
    index = Bm25KeywordIndex.build(TEXTS)
    allowed = np.array([True, False, True, True, False, True])
    cache: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for query in QUERIES * 2:  # the second round is served from the caches
        np.testing.assert_array_equal(index.scores(query), Bm25KeywordIndex.build(TEXTS).scores(query))
        np.testing.assert_array_equal(index.scores(query, allowed, cache), index.scores(query, allowed))


def test_the_index_keeps_postings_per_row_set_not_per_array() -> None:
    """A mask changed in place is another row set: the cached postings of the old one must not serve it."""
    index = Bm25KeywordIndex.build(TEXTS)
    allowed = np.array([True, True, False, True, True, True])
    first = index.scores("printer offline", allowed)
    allowed[2], allowed[3] = True, False
    np.testing.assert_array_equal(
        index.scores("printer offline", allowed), Bm25KeywordIndex.build(TEXTS).scores("printer offline", allowed)
    )
    np.testing.assert_array_equal(
        index.scores("printer offline", ~np.array([False, False, True, False, False, False])), first
    )
