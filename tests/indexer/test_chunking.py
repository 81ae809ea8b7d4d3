"""Chunking: one chunk per section, long sections split with overlap, the title carried into embeddings."""

from __future__ import annotations

import itertools

from indexer.chunking import Chunk, SourceRecord, chunk_records


def _words(count: int) -> str:
    return " ".join(f"w{i}" for i in range(count))


def test_short_section_is_one_chunk() -> None:
    record = SourceRecord("doc", "Title", "Cause", "A loose cable.")
    assert chunk_records([record]) == [Chunk("doc", "Title", "Cause", "A loose cable.")]


def test_long_section_is_split_into_overlapping_windows_that_cover_every_word() -> None:
    record = SourceRecord("doc", "Title", "Resolution", _words(50))

    chunks = chunk_records([record], max_words=20, overlap=5)

    windows = [c.text.split() for c in chunks]
    assert [len(w) for w in windows] == [20, 20, 20]
    for first, second in itertools.pairwise(windows):
        assert first[-5:] == second[:5]  # consecutive chunks share `overlap` words
    covered = {word for window in windows for word in window}
    assert covered == set(_words(50).split())
    assert windows[-1][-1] == "w49"
    assert all(c.doc_id == "doc" and c.section == "Resolution" for c in chunks)


def test_section_of_exactly_max_words_is_not_split() -> None:
    record = SourceRecord("doc", "Title", "Resolution", _words(20))
    assert len(chunk_records([record], max_words=20, overlap=5)) == 1


def test_overlap_not_smaller_than_the_window_still_makes_progress() -> None:
    record = SourceRecord("doc", "Title", "Resolution", _words(30))

    chunks = chunk_records([record], max_words=10, overlap=10)

    assert 1 < len(chunks) <= 30
    assert chunks[-1].text.split()[-1] == "w29"


def test_embedding_text_prepends_title_and_section() -> None:
    chunk = Chunk("doc", "VPN drops on hotel Wi-Fi", "Resolution", "Switch to SSL mode.")
    assert chunk.embedding_text == "VPN drops on hotel Wi-Fi. Resolution. Switch to SSL mode."
    assert chunk_records([SourceRecord("doc", "VPN", "Cause", "MTU.")])[0].embedding_text.startswith("VPN. ")


def test_section_without_heading_embeds_title_and_text() -> None:
    chunk = Chunk("doc", "Title", "", "Intro text.")
    assert chunk.embedding_text == "Title. Intro text."


def test_empty_section_still_yields_one_chunk_with_its_heading() -> None:
    chunks = chunk_records([SourceRecord("doc", "Title", "Prevention", "   \n ")])

    assert chunks == [Chunk("doc", "Title", "Prevention", "")]
    assert chunks[0].embedding_text == "Title. Prevention"


def test_title_only_record_embeds_the_title() -> None:
    chunks = chunk_records([SourceRecord("doc", "Only a title", "", "")])
    assert [c.embedding_text for c in chunks] == ["Only a title"]


def test_records_keep_their_order() -> None:
    records = [SourceRecord("doc", "T", heading, "text") for heading in ("Symptoms", "Cause", "Resolution")]
    assert [c.section for c in chunk_records(records)] == ["Symptoms", "Cause", "Resolution"]
