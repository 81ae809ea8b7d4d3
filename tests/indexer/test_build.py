"""Index builds: incremental by content hash, atomic by generation, refusing another model's index."""

from __future__ import annotations

import datetime as dt
import json
import os
import pty
import select
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from indexer.embedders import Embedder
from indexer.errors import IndexMismatchError
from indexer.generation import current_generation, read_meta
from indexer.load import load_index
from kb.articles import load_articles
from kb.errors import IndexNotReady, NotFound
from kb.service import KnowledgeBase
from kb.settings import Settings
from tests.conftest import STARTER_ARTICLES

# The manifest records the real model's name and dimension; refusing another model needs a real one.
pytestmark = pytest.mark.real_model

SMALL_IDS = [
    "badge-not-opening-doors",
    "printer-offline-floor-printer",
    "request-annual-leave",
    "vpn-drops-on-public-wifi",
]
VPN = "vpn-drops-on-public-wifi"
OLD_CAUSE = "Public networks often sit behind a captive portal"
NEW_CAUSE = "The hotel router reboots itself every night at three and forgets every tunnel it carried."
VPN_QUESTION = "my vpn keeps dropping every few minutes when I'm on hotel wifi"


def _edit_vpn_cause(articles: Path) -> None:
    path = articles / f"{VPN}.md"
    text = path.read_text(encoding="utf-8")
    assert OLD_CAUSE in text
    path.write_text(text.replace(OLD_CAUSE, NEW_CAUSE + " " + OLD_CAUSE), encoding="utf-8")


def _generations(index_dir: Path) -> list[str]:
    return sorted(p.name for p in index_dir.iterdir() if p.is_dir())


def _chunk_texts(kb: KnowledgeBase, doc_id: str) -> str:
    return " ".join(row.text for row in kb.indexing.searcher().index.chunks if row.doc_id == doc_id)


# Incremental builds -------------------------------------------------------------------------------------------


def test_first_build_embeds_everything(small_kb: KnowledgeBase) -> None:
    report = small_kb.indexing.build()

    assert report.articles == 4
    assert report.build.embedded == SMALL_IDS
    assert report.build.reused == []
    assert report.build.changed
    assert report.build.chunks > 4
    assert small_kb.indexing.status().state == "ready"


def test_editing_one_article_reembeds_only_that_article(indexed_small_kb: KnowledgeBase, small_articles: Path) -> None:
    small_kb = indexed_small_kb
    first = small_kb.indexing.build()
    assert not first.build.changed
    _edit_vpn_cause(small_articles)

    second = small_kb.indexing.build()

    assert second.build.embedded == [VPN]
    assert second.build.reused == [i for i in SMALL_IDS if i != VPN]
    assert second.build.removed == []
    assert second.build.changed
    assert second.build.generation != first.build.generation
    assert NEW_CAUSE in _chunk_texts(small_kb, VPN)
    outcome = small_kb.search.find("the hotel router reboots every night and forgets the tunnel", limit=3)
    assert outcome.hits[0].article_id == VPN


def test_unchanged_rerun_reports_no_change_and_keeps_the_generation(indexed_small_kb: KnowledgeBase) -> None:
    live = current_generation(indexed_small_kb.settings.index_dir)
    assert live is not None

    for _ in range(2):
        again = indexed_small_kb.indexing.build()
        assert not again.build.changed
        assert again.build.embedded == []
        assert again.build.reused == SMALL_IDS
        assert again.build.generation == live.name
    assert current_generation(indexed_small_kb.settings.index_dir) == live


def test_metadata_only_edit_reuses_the_vectors(indexed_small_kb: KnowledgeBase, small_articles: Path) -> None:
    small_kb = indexed_small_kb
    path = small_articles / "request-annual-leave.md"
    path.write_text(path.read_text(encoding="utf-8").replace("team: HR", "team: Finance"), encoding="utf-8")

    report = small_kb.indexing.build()

    assert report.build.changed
    assert report.build.embedded == []
    assert report.build.reused == SMALL_IDS
    hit = small_kb.search.find("I need to take a few days off next month, how do I ask", limit=1).hits[0]
    assert (hit.article_id, hit.team) == ("request-annual-leave", "Finance")


def test_removed_file_is_reported_and_no_longer_found(indexed_small_kb: KnowledgeBase, small_articles: Path) -> None:
    small_kb = indexed_small_kb
    (small_articles / "printer-offline-floor-printer.md").unlink()

    report = small_kb.indexing.build()

    assert report.build.removed == ["printer-offline-floor-printer"]
    assert report.build.embedded == []
    outcome = small_kb.search.find("the printer on my floor says it is offline", limit=10)
    assert "printer-offline-floor-printer" not in [h.article_id for h in outcome.hits]
    with pytest.raises(NotFound):
        small_kb.articles.get("printer-offline-floor-printer")


def test_rebuild_reembeds_everything_and_keeps_the_previous_generation_one_build(
    indexed_small_kb: KnowledgeBase,
) -> None:
    small_kb = indexed_small_kb
    first = small_kb.indexing.build(rebuild=True).build.generation

    second = small_kb.indexing.build(rebuild=True)

    assert second.build.embedded == SMALL_IDS
    assert second.build.reused == []
    # The live one and its predecessor (a server may still be loading it); older ones are removed.
    assert sorted(_generations(small_kb.settings.index_dir)) == sorted([first, second.build.generation])


def test_changed_chunking_rebuilds_everything(indexed_small_settings: Settings, embedder: Embedder) -> None:
    settings = indexed_small_settings.model_copy(update={"chunk_words": 60, "chunk_overlap_words": 10})
    kb = KnowledgeBase(settings, embedder=embedder)
    try:
        report = kb.indexing.build()
    finally:
        kb.close()

    assert report.build.embedded == SMALL_IDS
    assert read_meta(settings.index_dir)["chunking"] == {"max_words": 60, "overlap": 10}  # type: ignore[index]


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # bm25s divides by a zero average length on the way
def test_an_empty_folder_builds_an_empty_index_that_offers_a_ticket(
    indexed_small_kb: KnowledgeBase, small_articles: Path
) -> None:
    small_kb = indexed_small_kb
    for path in small_articles.glob("*.md"):
        path.unlink()

    report = small_kb.indexing.build()

    assert report.build.removed == SMALL_IDS
    assert report.build.chunks == 0
    outcome = small_kb.search.find("my printer is offline")
    assert not outcome.answered
    assert outcome.hits == []
    assert outcome.ticket is not None


# What is written ----------------------------------------------------------------------------------------------


def test_meta_json_records_model_dimension_chunks_time_and_hashes(
    indexed_small_kb: KnowledgeBase, embedder: Embedder
) -> None:
    small_kb = indexed_small_kb
    report = small_kb.indexing.build()
    live = current_generation(small_kb.settings.index_dir)
    assert live is not None and live.name == report.build.generation

    meta = json.loads((live / "meta.json").read_text(encoding="utf-8"))

    assert meta["model"] == embedder.name == "all-MiniLM-L6-v2+onnx"  # the default encoder
    assert meta["dimension"] == embedder.dimension == 384
    assert meta["chunk_count"] == report.build.chunks == len((live / "chunks.jsonl").read_text().splitlines())
    built_at = dt.datetime.fromisoformat(meta["built_at"])
    assert built_at.tzinfo is not None
    assert dt.datetime.now(dt.UTC) - dt.timedelta(hours=1) < built_at <= dt.datetime.now(dt.UTC)
    articles = {a.id: a for a in load_articles(small_kb.settings.articles_dir).articles}
    assert sorted(meta["docs"]) == SMALL_IDS
    for doc_id, doc in meta["docs"].items():
        assert doc["hash"] == articles[doc_id].content_hash
        assert doc["rows"]
    assert {"vectors.faiss", "chunks.jsonl", "keyword", "meta.json"} <= {p.name for p in live.iterdir()}


def test_index_built_with_another_model_is_refused(
    indexed_small_kb: KnowledgeBase, small_settings: Settings, embedder: Embedder
) -> None:
    small_kb = indexed_small_kb
    live = current_generation(small_settings.index_dir)
    assert live is not None
    meta = json.loads((live / "meta.json").read_text(encoding="utf-8"))
    meta["model"] = "paraphrase-multilingual-mpnet-base-v2"
    (live / "meta.json").write_text(json.dumps(meta), encoding="utf-8")

    with pytest.raises(IndexMismatchError) as raised:
        load_index(small_settings.index_dir, embedder.name, embedder.dimension)
    message = str(raised.value)
    assert "paraphrase-multilingual-mpnet-base-v2" in message
    assert "all-MiniLM-L6-v2" in message
    assert "kb index --rebuild" in message

    fresh = KnowledgeBase(small_settings, embedder=embedder)
    try:
        assert fresh.indexing.status().state == "unavailable"
        with pytest.raises(IndexNotReady, match="paraphrase-multilingual-mpnet-base-v2"):
            fresh.search.find("printer offline")
    finally:
        fresh.close()

    # Indexing again does not reuse the other model's vectors: everything is embedded afresh.
    report = small_kb.indexing.build()
    assert report.build.embedded == SMALL_IDS
    assert small_kb.search.find(VPN_QUESTION, limit=1).hits[0].article_id == VPN


def test_an_index_the_other_backend_built_is_refused_until_rebuilt(
    indexed_small_kb: KnowledgeBase, small_settings: Settings, embedder: Embedder
) -> None:
    """The same model run by two backends gives close, not equal, vectors: one index never mixes them."""
    other = "onnx" if embedder.name.endswith("+openvino") else "openvino"
    switched = small_settings.model_copy(update={"encoder": other})
    fresh = KnowledgeBase(switched)  # the real loader: the other backend
    try:
        with pytest.raises(IndexNotReady, match="kb index --rebuild") as refused:
            fresh.search.find("printer offline")
        assert embedder.name in str(refused.value) and fresh.indexing.embedder.name in str(refused.value)
        report = fresh.indexing.build(rebuild=True)
        assert report.build.embedded == SMALL_IDS
        assert fresh.search.find(VPN_QUESTION, limit=1).hits[0].article_id == VPN
    finally:
        fresh.close()


def test_unreadable_meta_is_refused(indexed_small_kb: KnowledgeBase, embedder: Embedder) -> None:
    small_kb = indexed_small_kb
    live = current_generation(small_kb.settings.index_dir)
    assert live is not None
    (live / "meta.json").write_text("{ not json", encoding="utf-8")

    with pytest.raises(IndexMismatchError, match="unreadable"):
        load_index(small_kb.settings.index_dir, embedder.name, embedder.dimension)


# Interrupted builds -------------------------------------------------------------------------------------------


class InterruptingProgress:
    """Like Ctrl-C arriving after the first batch has been embedded."""

    def __init__(self) -> None:
        self.total = 0
        self.done = 0

    def start(self, total: int) -> None:
        self.total = total

    def advance(self, count: int) -> None:
        self.done += count
        raise KeyboardInterrupt


def test_interrupted_embedding_leaves_the_previous_index_live(
    indexed_small_kb: KnowledgeBase, small_articles: Path
) -> None:
    small_kb = indexed_small_kb
    before = small_kb.indexing.build().build.generation
    _edit_vpn_cause(small_articles)
    for number in range(70):  # enough extra chunks for more than one embedding batch
        (small_articles / f"filler-{number}.md").write_text(
            f"---\ntitle: Filler note {number}\nteam: IT\n---\n\nFiller text number {number}.\n", encoding="utf-8"
        )
    progress = InterruptingProgress()

    with pytest.raises(KeyboardInterrupt):
        small_kb.indexing.build(progress=progress)

    assert 0 < progress.done < progress.total  # interrupted mid-embedding
    index_dir = small_kb.settings.index_dir
    assert current_generation(index_dir).name == before  # type: ignore[union-attr]
    assert _generations(index_dir) == [before]
    outcome = small_kb.search.find(VPN_QUESTION, limit=5)
    assert outcome.hits[0].article_id == VPN
    assert not any(h.article_id.startswith("filler-") for h in outcome.hits)
    assert OLD_CAUSE in _chunk_texts(small_kb, VPN)
    assert NEW_CAUSE not in _chunk_texts(small_kb, VPN)
    # The store (where articles live) took the import whole; only the index is behind, and says so.
    assert small_kb.articles.get("filler-0").title == "Filler note 0"

    # The next run picks up exactly the work that was lost.
    for path in small_articles.glob("filler-*.md"):
        path.unlink()
    report = small_kb.indexing.build()
    assert report.build.embedded == [VPN]
    assert NEW_CAUSE in _chunk_texts(small_kb, VPN)


def _copy_starter_articles(folder: Path, copies: int) -> int:
    written = 0
    for source in sorted(STARTER_ARTICLES.glob("*.md")):
        text = source.read_text(encoding="utf-8")
        for number in range(copies):
            copy_id = f"{source.stem}-copy-{number}"
            copied = text.replace(f"id: {source.stem}\n", f"id: {copy_id}\n", 1).replace(
                "\ntitle: ", f"\ntitle: (copy {number}) ", 1
            )
            (folder / f"{copy_id}.md").write_text(copied, encoding="utf-8")
            written += 1
    return written


def _wait_for(master: int, marker: bytes, timeout: float) -> bytes:
    seen = b""
    deadline = time.monotonic() + timeout
    while marker not in seen and time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            seen += chunk
    return seen


@pytest.mark.slow
def test_kill_9_during_a_rebuild_leaves_the_previous_index_loadable(
    indexed_small_kb: KnowledgeBase,
    small_settings: Settings,
    small_articles: Path,
    embedder: Embedder,
) -> None:
    small_kb = indexed_small_kb
    before = small_kb.indexing.build().build.generation
    assert _copy_starter_articles(small_articles, copies=6) >= 280
    env = {
        **os.environ,
        "KB_DATA_DIR": str(small_settings.data_dir),
        "KB_ARTICLES_DIR": str(small_articles),
        "HF_HUB_OFFLINE": "1",
        "TERM": "xterm-256color",
        "COLUMNS": "120",
    }
    # stderr on a pseudo-terminal so the progress bar shows when embedding has started.
    master, child_tty = pty.openpty()
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "kb"), "index", "--rebuild"],
        env=env,
        cwd=small_settings.data_dir,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=child_tty,
    )
    os.close(child_tty)
    try:
        seen = _wait_for(master, b"Embedding", timeout=90)
        assert b"Embedding" in seen, seen[-2000:]
        time.sleep(1.5)
        assert process.poll() is None, "the build finished before it could be killed"
        process.send_signal(signal.SIGKILL)
        assert process.wait(timeout=30) == -signal.SIGKILL
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        os.close(master)

    index_dir = small_settings.index_dir
    assert current_generation(index_dir).name == before  # type: ignore[union-attr]
    loaded = load_index(index_dir, embedder.name, embedder.dimension)
    assert sorted(loaded.docs) == SMALL_IDS
    survivor = KnowledgeBase(small_settings, embedder=embedder)
    try:
        outcome = survivor.search.find(VPN_QUESTION, limit=5)
    finally:
        survivor.close()
    assert outcome.answered
    assert outcome.hits[0].article_id == VPN
    assert not any("-copy-" in h.article_id for h in outcome.hits)

    # A later build still works over whatever the killed one left behind.
    for path in small_articles.glob("*-copy-*.md"):
        path.unlink()
    shutil.copy(STARTER_ARTICLES / "vpn-wont-connect.md", small_articles)
    report = small_kb.indexing.build()
    assert report.build.embedded == ["vpn-wont-connect"]
    # The killed build's staging folder is gone; the live generation and its predecessor remain.
    assert sorted(_generations(index_dir)) == sorted([before, report.build.generation])


def test_an_incremental_generation_searches_exactly_as_a_rebuilt_one(
    indexed_small_kb: KnowledgeBase, small_articles: Path
) -> None:
    """Unchanged rows keep their term frequencies and the spelling vocabulary is updated by difference: keyword
    scores and vocabulary must equal those of a generation built from scratch."""
    small_kb = indexed_small_kb
    _edit_vpn_cause(small_articles)
    (small_articles / "printer-offline-floor-printer.md").unlink()
    incremental = small_kb.indexing.build().build.index
    rebuilt = small_kb.indexing.build(rebuild=True).build.index
    assert incremental is not None and rebuilt is not None
    assert [c.doc_id for c in incremental.chunks] == [c.doc_id for c in rebuilt.chunks]
    assert dict(incremental.vocabulary) == dict(rebuilt.vocabulary)
    for query in (VPN_QUESTION, "hotel router reboots", "badge door", "annual leave request", "printer offline"):
        assert np.allclose(incremental.keywords.scores(query), rebuilt.keywords.scores(query))
