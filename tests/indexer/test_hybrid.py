"""The read side of a generation: candidates from both retrievers with exact scores, filtered by readable rows."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from indexer.analysis import word_counts
from indexer.chunking import Chunk
from indexer.hybrid import HybridIndex
from indexer.keyword_index import Bm25KeywordIndex
from indexer.vector_index import FaissVectorIndex
from tests.fakes import HashingEmbedder

EMBEDDER = HashingEmbedder()
CHUNKS = [
    Chunk("vpn", "VPN drops", "Cause", "The VPN drops on hotel wifi"),
    Chunk("vpn", "VPN drops", "Resolution", "Reconnect and pick another server"),
    Chunk("printer", "Printer offline", "Resolution", "Refill the tray and press resume"),
    Chunk("payroll", "Payroll secrets", "Cause", "The bonus table is kept by finance"),
]
DOCS: dict[str, dict[str, Any]] = {
    "vpn": {"rows": [0, 1]},
    "printer": {"rows": [2]},
    "payroll": {"rows": [3], "audience": ["finance"]},
}


def _index() -> HybridIndex:
    texts = [c.embedding_text for c in CHUNKS]
    vectors = FaissVectorIndex.build(EMBEDDER.encode(texts), EMBEDDER.dimension)
    return HybridIndex(vectors, Bm25KeywordIndex.build(texts), CHUNKS, DOCS, {}, "gen-test", word_counts(texts))


def _public(meta: Any) -> bool:
    return not meta.get("audience")


def test_candidates_hold_both_retrievers_exact_scores() -> None:
    index = _index()
    vector = EMBEDDER.encode(["vpn hotel wifi"])[0]
    found = index.candidates("vpn hotel wifi", vector, None, 10)
    assert found.rows.tolist() == sorted(set(found.rows.tolist()))
    np.testing.assert_allclose(found.dense, index.stored_vectors(found.rows) @ vector, rtol=1e-6)
    assert 0 < found.keyword[found.position(0)] <= 1.0  # a share of the query's attainable keyword evidence


def test_a_hidden_document_is_no_candidate_and_shapes_no_score() -> None:
    index = _index()
    allowed = index.row_filter(_public)
    assert allowed is not None and allowed.mask.tolist() == [True, True, True, False]
    found = index.candidates("bonus table finance", EMBEDDER.encode(["bonus table finance"])[0], allowed, 10)
    assert 3 not in found.rows.tolist()
    assert not index.keyword_candidates("bonus table finance", allowed, 10).rows.size
    assert index.row_filter(lambda meta: True) is None  # every row readable: no filter at all


def test_keyword_rows_are_candidates_only_when_asked_for() -> None:
    index = _index()
    far = np.zeros(EMBEDDER.dimension, dtype=np.float32)
    far[0] = 1.0
    with_keywords = index.candidates("refill tray", far, None, 1)
    dense_only = index.candidates("refill tray", far, None, 1, keyword_rows=False)
    assert 2 in with_keywords.rows.tolist()
    assert len(dense_only.rows) == 1


def test_neighbours_of_a_document_leave_out_its_own_rows_and_hidden_ones() -> None:
    index = _index()
    _, rows = index.neighbours("vpn", index.row_filter(_public), 10)
    assert rows.tolist() == [2]
    assert not len(index.neighbours("unknown", None, 10)[1])


def test_corrections_and_term_coverage_read_only_allowed_words() -> None:
    index = _index()
    assert index.corrector(None).correct("bonuss") == "bonus"
    assert index.corrector(index.row_filter(_public)).correct("bonuss") == "bonuss"
    assert index.term_coverage("refill tray quokka", 2) == 2 / 3
    assert index.term_coverage("the", 2) == 0.0


def test_english_words_translated_from_a_foreign_query_are_a_reading_of_their_own() -> None:
    index = _index()
    allowed = index.row_filter(_public)
    untranslated = index.keyword_share("drukarka nie działa", allowed, "pl")
    translated = index.keyword_share("drukarka nie działa", allowed, "pl", translated=["printer"])
    assert not untranslated.any()
    assert translated[2] == pytest.approx(1.0) and translated[[0, 1, 3]].tolist() == [0, 0, 0]
    # A word only a hidden article holds meets no readable row: it adds nothing, also not to the ceiling.
    hidden = index.keyword_share("drukarka premia", allowed, "pl", translated=["printer", "bonus"])
    assert hidden.tolist() == translated.tolist()
    assert (
        index.keyword_share("printer", allowed, "en", translated=["bonus"]).tolist()
        == index.keyword_share("printer", allowed, "en").tolist()
    )  # an English query is read as typed
