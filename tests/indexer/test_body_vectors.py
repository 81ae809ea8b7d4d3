"""Text-alone vectors: chunks of documents that share a title (within a scope) are read by their own text too, built
incrementally like every other vector, and scored beside the titled cosine."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from indexer.body_vectors import body_text
from indexer.build import IndexDocument, build_index
from indexer.chunking import Chunk, SourceRecord
from indexer.embedders import Embedder
from indexer.hybrid import HybridIndex
from indexer.load import load_index
from tests.fakes import Counting, HashingEmbedder

RENEW = "Renew a non-driver ID card"
SECTIONS = {
    "renew-online": (RENEW, "Renew online with your license number and pay by card."),
    "renew-fees": (RENEW, "The renewal fee is 14 dollars; seniors pay nothing."),
    "road-test": ("Prepare for your road test", "Bring a licensed driver and a car that passes inspection."),
}


def _document(doc_id: str, title: str, text: str, scope: str = "") -> IndexDocument:
    digest = hashlib.sha256(f"{doc_id}\n{title}\n{text}\n{scope}".encode()).hexdigest()
    return IndexDocument(doc_id, digest, [SourceRecord(doc_id, title, "", text)], scope=scope)


def _documents(sections: dict[str, tuple[str, str]]) -> list[IndexDocument]:
    return [_document(doc_id, title, text) for doc_id, (title, text) in sections.items()]


def _body(doc_id: str) -> str:
    title, text = SECTIONS[doc_id]
    return body_text(Chunk(doc_id, title, "", text))


def _load(root: Path, embedder: Embedder) -> HybridIndex:
    return load_index(root, embedder.name, embedder.dimension)


def _has_body(index: HybridIndex, doc_id: str) -> bool:
    return all(index.body_vector(int(row)) is not None for row in index.rows_of(doc_id))


def test_only_documents_that_share_a_title_are_read_by_their_text_alone(tmp_path: Path) -> None:
    embedder = Counting(HashingEmbedder())
    build_index(_documents(SECTIONS), embedder, tmp_path)
    assert sorted(t for t in embedder.encoded if t in (_body("renew-online"), _body("renew-fees"))) == sorted(
        [_body("renew-online"), _body("renew-fees")]
    )
    assert _body("road-test") not in embedder.encoded
    index = _load(tmp_path, embedder)
    assert _has_body(index, "renew-online") and _has_body(index, "renew-fees")
    assert not _has_body(index, "road-test")


def test_a_candidate_is_scored_by_its_text_alone_and_a_row_without_one_by_its_titled_cosine(tmp_path: Path) -> None:
    embedder = HashingEmbedder()
    build_index(_documents(SECTIONS), embedder, tmp_path)
    index = _load(tmp_path, embedder)
    query = "renewal fee for seniors"
    vector = embedder.encode([query])[0]
    found = index.candidates(query, vector, None, 10)
    assert found.body is not None
    for position, row in enumerate(found.rows.tolist()):
        doc_id = index.doc_of_row[row]
        if doc_id == "road-test":
            assert found.body[position] == found.dense[position]
        else:
            alone = float(embedder.encode([_body(doc_id)])[0] @ vector)
            assert abs(float(found.body[position]) - alone) < 1e-5
    fees = found.position(int(index.rows_of("renew-fees")[0]))
    online = found.position(int(index.rows_of("renew-online")[0]))
    # The shared title weighs the same in both titled vectors; read alone, the section about fees stands out more.
    assert found.body[fees] - found.body[online] > found.dense[fees] - found.dense[online]


def test_a_title_shared_only_across_scopes_gives_no_text_alone_vector(tmp_path: Path) -> None:
    """kb passes the audience as the scope: a restricted article that shares a public one's title must not change
    how the public one is read."""
    embedder = HashingEmbedder()
    documents = [
        _document("renew-online", *SECTIONS["renew-online"]),
        _document("renew-fees", *SECTIONS["renew-fees"], scope="finance"),
    ]
    build_index(documents, embedder, tmp_path)
    index = _load(tmp_path, embedder)
    assert not _has_body(index, "renew-online") and not _has_body(index, "renew-fees")


def test_text_alone_vectors_follow_titles_incrementally_without_encoding_anything_twice(tmp_path: Path) -> None:
    embedder = Counting(HashingEmbedder())
    alone = {k: v for k, v in SECTIONS.items() if k != "renew-fees"}
    build_index(_documents(alone), embedder, tmp_path)
    assert not _has_body(_load(tmp_path, embedder), "renew-online")

    # A second section of the page arrives: the first is now read alone too, its titled vector reused.
    embedder.encoded.clear()
    build_index(_documents(SECTIONS), embedder, tmp_path)
    titled_fees = Chunk("renew-fees", RENEW, "", SECTIONS["renew-fees"][1]).embedding_text
    assert sorted(embedder.encoded) == sorted([titled_fees, _body("renew-fees"), _body("renew-online")])
    grown = _load(tmp_path, embedder)
    kept = np.array(grown.body_vector(int(grown.rows_of("renew-online")[0])))

    # Another document changes: the text-alone vectors are carried over, none encoded again.
    embedder.encoded.clear()
    changed = {**SECTIONS, "road-test": ("Prepare for your road test", "Bring your learner permit.")}
    build_index(_documents(changed), embedder, tmp_path)
    title, text = changed["road-test"]
    assert embedder.encoded == [Chunk("road-test", title, "", text).embedding_text]
    carried = _load(tmp_path, embedder)
    np.testing.assert_array_equal(carried.body_vector(int(carried.rows_of("renew-online")[0])), kept)

    # The sibling leaves: the remaining section has no sibling to be told from.
    build_index(_documents({k: v for k, v in changed.items() if k != "renew-fees"}), embedder, tmp_path)
    assert not _has_body(_load(tmp_path, embedder), "renew-online")


def test_a_carried_text_alone_vector_follows_its_row_when_earlier_documents_leave(tmp_path: Path) -> None:
    embedder = HashingEmbedder()
    third = {"renew-mail": (RENEW, "Renew by mail with form MV-44 and a check.")}
    build_index(_documents({"road-test": SECTIONS["road-test"], **SECTIONS, **third}), embedder, tmp_path)
    before = _load(tmp_path, embedder)
    kept = {doc: np.array(before.body_vector(int(before.rows_of(doc)[0]))) for doc in ("renew-fees", "renew-mail")}

    # The first section leaves: every row after it moves up, its text-alone vector with it.
    build_index(_documents({k: v for k, v in {**SECTIONS, **third}.items() if k != "renew-online"}), embedder, tmp_path)
    after = _load(tmp_path, embedder)
    for doc, vector in kept.items():
        np.testing.assert_array_equal(after.body_vector(int(after.rows_of(doc)[0])), vector)
