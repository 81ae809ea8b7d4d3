"""Index builds with the multilingual encoder: a second vector index, reused per document like the first, refused
when missing, and keyword terms analysed in each document's language."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from indexer.build import IndexDocument, build_index
from indexer.chunking import SourceRecord, chunk_records
from indexer.embedders import Embedder, ProgressCallback, Vectors, encoder_identity
from indexer.errors import IndexMismatchError
from indexer.generation import MULTILINGUAL_VECTORS, current_generation
from indexer.keyword_index import Bm25KeywordIndex
from indexer.load import load_index
from tests.fakes import Counting, HashingEmbedder


class FakeMultilingual:
    """Another deterministic encoder, with its own name and dimension: each text is a fixed random unit vector."""

    name = "fake-multilingual-encoder"
    dimension = 16

    def encode(self, texts: Sequence[str], progress: ProgressCallback | None = None) -> Vectors:
        vectors = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for i, text in enumerate(texts):
            seed = int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")
            vectors[i] = np.random.default_rng(seed).standard_normal(self.dimension).astype(np.float32)
            vectors[i] /= np.linalg.norm(vectors[i])
        if progress is not None:
            progress(len(texts))
        return vectors


TEXTS = {
    "vpn": "The VPN drops every few minutes on hotel wifi. Reconnect after the captive portal.",
    "printer": "The printer on the third floor says it is offline. Restart the print spooler.",
    "leave": "Request annual leave in the HR portal at least two weeks ahead.",
}


def _document(doc_id: str, text: str, language: str = "en") -> IndexDocument:
    records = [SourceRecord(doc_id, doc_id.title(), "Resolution", text)]
    digest = hashlib.sha256(f"{doc_id}\n{text}".encode()).hexdigest()
    return IndexDocument(doc_id=doc_id, content_hash=digest, records=records, language=language)


def _documents(texts: dict[str, str]) -> list[IndexDocument]:
    return [_document(doc_id, text) for doc_id, text in texts.items()]


def _chunk_texts(document: IndexDocument) -> list[str]:
    return [chunk.embedding_text for chunk in chunk_records(document.records)]


def _stored(root: Path, english: Embedder, multilingual: Embedder, doc_id: str) -> tuple[Vectors, Vectors]:
    """Copies of `doc_id`'s stored vectors in the English (0) and multilingual (1) vector indexes."""
    index = load_index(root, english.name, english.dimension, encoder_identity(multilingual))
    rows = index.rows_of(doc_id)
    assert len(rows)
    return np.array(index.stored_vectors(rows, encoder=0)), np.array(index.stored_vectors(rows, encoder=1))


def test_a_changed_document_is_the_only_one_either_encoder_embeds_again(tmp_path: Path) -> None:
    english, multilingual = Counting(HashingEmbedder()), Counting(FakeMultilingual())
    documents = _documents(TEXTS)
    first = build_index(documents, english, tmp_path, multilingual=multilingual)
    assert first.embedded == sorted(TEXTS)
    all_texts = [text for document in documents for text in _chunk_texts(document)]
    assert english.encoded == all_texts
    assert multilingual.encoded == all_texts
    before = {doc_id: _stored(tmp_path, english, multilingual, doc_id) for doc_id in ("vpn", "leave")}
    english.encoded.clear()
    multilingual.encoded.clear()

    changed = _documents({**TEXTS, "printer": TEXTS["printer"] + " Then print a test page."})
    second = build_index(changed, english, tmp_path, multilingual=multilingual)

    assert second.embedded == ["printer"]
    assert second.reused == ["leave", "vpn"]
    printer_texts = _chunk_texts(changed[1])
    assert english.encoded == printer_texts
    assert multilingual.encoded == printer_texts
    for doc_id, (english_before, multilingual_before) in before.items():
        english_after, multilingual_after = _stored(tmp_path, english, multilingual, doc_id)
        assert english_after.shape == (len(english_before), HashingEmbedder.dimension)
        assert multilingual_after.shape == (len(multilingual_before), FakeMultilingual.dimension)
        np.testing.assert_array_equal(english_after, english_before)
        np.testing.assert_array_equal(multilingual_after, multilingual_before)
    index = load_index(tmp_path, english.name, english.dimension, encoder_identity(multilingual))
    assert index.multilingual
    assert index.meta["multilingual"] == {"model": FakeMultilingual.name, "dimension": FakeMultilingual.dimension}
    np.testing.assert_array_equal(
        index.stored_vectors(index.rows_of("printer"), encoder=1), FakeMultilingual().encode(printer_texts)
    )


def test_an_index_without_the_multilingual_encoder_is_refused_then_fully_rebuilt(tmp_path: Path) -> None:
    english = Counting(HashingEmbedder())
    multilingual = Counting(FakeMultilingual())
    documents = _documents(TEXTS)
    build_index(documents, english, tmp_path)
    live = current_generation(tmp_path)
    assert live is not None and not (live / MULTILINGUAL_VECTORS).exists()

    with pytest.raises(IndexMismatchError, match="rebuild"):
        load_index(tmp_path, english.name, english.dimension, encoder_identity(multilingual))
    # Without a multilingual encoder configured, the same index still loads.
    assert not load_index(tmp_path, english.name, english.dimension).multilingual

    english.encoded.clear()
    report = build_index(documents, english, tmp_path, multilingual=multilingual)

    all_texts = [text for document in documents for text in _chunk_texts(document)]
    assert report.changed
    assert report.embedded == sorted(TEXTS)
    assert report.reused == []
    assert english.encoded == all_texts
    assert multilingual.encoded == all_texts
    index = load_index(tmp_path, english.name, english.dimension, encoder_identity(multilingual))
    assert index.multilingual
    assert index.size == len(all_texts)


def test_an_index_with_another_multilingual_encoder_is_refused(tmp_path: Path) -> None:
    english = HashingEmbedder()
    build_index(_documents(TEXTS), english, tmp_path, multilingual=FakeMultilingual())

    other = {"model": "another-multilingual-encoder", "dimension": FakeMultilingual.dimension}
    with pytest.raises(IndexMismatchError, match="rebuild") as refused:
        load_index(tmp_path, english.name, english.dimension, other)
    assert FakeMultilingual.name in str(refused.value)


PORTUGUESE = "As senhas expiram a cada noventa dias. Altere a senha no portal."


def test_a_portuguese_document_is_keyword_indexed_in_portuguese(tmp_path: Path) -> None:
    english, multilingual = HashingEmbedder(), FakeMultilingual()
    documents = [*_documents(TEXTS), _document("senha", PORTUGUESE, language="pt")]
    build_index(documents, english, tmp_path, multilingual=multilingual)
    index = load_index(tmp_path, english.name, english.dimension, encoder_identity(multilingual))
    senha_rows = set(index.rows_of("senha").tolist())
    query = "senhas"  # the plural: only the Portuguese stemmer meets the article's "senha"

    found = index.candidates(query, english.encode([query])[0], None, depth=5, language="pt")

    matched = {int(row) for row, score in zip(found.rows, found.keyword, strict=True) if score > 0}
    assert matched and matched <= senha_rows
    # Read as English, the plural's stem ("senhas") is not a term the Portuguese article was indexed under.
    as_english = index.candidates(query, english.encode([query])[0], None, depth=5, language="en")
    assert not as_english.keyword.any()


def test_keyword_terms_follow_each_texts_language() -> None:
    texts = ["Não consigo imprimir: a impressora está offline", "The printer is offline"]
    index = Bm25KeywordIndex.build(texts, ["pt", "en"])

    assert index.scores("impressoras", language="pt")[0] > 0  # plural query, singular text: a shared stem
    assert not index.scores("impressoras", language="pt")[1]
    # A Portuguese stop word is no term: it matches nothing, not even the Portuguese text that holds it.
    assert index.tokens("não está", language="pt") == []
    assert index.scores("printers", language="en")[1] > 0
    assert not index.scores("printers", language="en")[0]
