"""A kill at any moment of a stream of publishes leaves the store and the index consistent once a server starts
again: the store holds whole versions only, the previous index generation loads, and the repair
(`IndexingService.catch_up`, run by the maintenance schedule; at start the change log's follower does the same)
brings the index to exactly what the store publishes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from kb.access import Principal
from kb.articles import Article, parse_article
from kb.service import KnowledgeBase
from kb.settings import Settings
from tests.conftest import REPO, STARTER_ARTICLES
from tests.fakes import HashingEmbedder

pytestmark = pytest.mark.both_stores

PUBLISHER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from kb.access import Principal
    from kb.service import KnowledgeBase
    from kb.settings import Settings
    from tests.fakes import HashingEmbedder

    settings = Settings(
        data_dir=Path(sys.argv[1]), articles_dir=Path(sys.argv[2]), database_url=sys.argv[3] or None, multilingual=False
    )
    kb = KnowledgeBase(settings, embedder=HashingEmbedder())
    ivan = Principal("ivan", "agent", teams=frozenset({"IT"}))
    ines = Principal("ines", "agent", teams=frozenset({"IT"}))
    for number in range(10_000):
        markdown = (
            f"---\\nid: crash-{number}\\ntitle: Crash gadget {number}\\nteam: IT\\n---\\n\\n"
            f"## Symptoms\\n\\nGadget {number} blinks.\\n\\n## Resolution\\n\\nUnplug gadget {number}.\\n"
        )
        saved = kb.publishing.create(markdown, ivan).article
        saved = kb.publishing.transition(saved.id, "review", ivan, None).article
        kb.publishing.transition(saved.id, "published", ines, None)
        print(number, flush=True)
    """
)


def _settings(root: Path, database_url: str | None) -> Settings:
    return Settings(
        data_dir=root / "data", articles_dir=root / "articles", database_url=database_url, multilingual=False
    )


def _consistent(settings: Settings) -> None:
    kb = KnowledgeBase(settings, embedder=HashingEmbedder())
    try:
        kb.indexing.catch_up()  # the repair a server runs (its maintenance; at start, from the change log)
        published = {a.id: a.content_hash for a in kb.store.articles.published()}
        index = kb.indexing.searcher().index
        assert {doc: meta["hash"] for doc, meta in index.docs.items()} == published
        for article_id in published:
            versions = kb.store.articles.versions(article_id)
            assert [v.number for v in versions] == list(range(1, len(versions) + 1))  # whole versions only
        # And the KB still takes a publish.
        ivan, ines = (
            Principal("ivan", "agent", teams=frozenset({"IT"})),
            Principal("ines", "agent", teams=frozenset({"IT"})),
        )
        markdown = "---\ntitle: After the crash\nteam: IT\n---\n\n## Resolution\n\nCarry on.\n"
        saved = kb.publishing.create(markdown, ivan).article
        kb.publishing.transition(saved.id, "review", ivan, None)
        kb.publishing.transition(saved.id, "published", ines, None)
        assert "after-the-crash" in kb.indexing.searcher().index.docs
    finally:
        kb.close()


@pytest.mark.slow
@pytest.mark.parametrize("publishes_before_kill", [1, 4, 9])
def test_a_kill_during_publishes_leaves_store_and_index_consistent(
    tmp_path: Path, kb_database_url: str | None, publishes_before_kill: int
) -> None:
    settings = _settings(tmp_path, kb_database_url)
    (tmp_path / "articles").mkdir()
    for name in ("teams.yaml", "vpn-drops-on-public-wifi.md", "printer-offline-floor-printer.md"):
        (tmp_path / "articles" / name).write_bytes((STARTER_ARTICLES / name).read_bytes())
    kb = KnowledgeBase(settings, embedder=HashingEmbedder())
    kb.indexing.build()
    kb.close()

    env = {**os.environ, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1"}
    publisher = subprocess.Popen(
        [sys.executable, "-c", PUBLISHER, str(settings.data_dir), str(settings.articles_dir), kb_database_url or ""],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert publisher.stdout is not None
        for _ in range(publishes_before_kill):
            assert publisher.stdout.readline(), publisher.stderr.read() if publisher.stderr else ""
        time.sleep(0.01 * publishes_before_kill)  # somewhere inside the next publish
        publisher.send_signal(signal.SIGKILL)
    finally:
        publisher.wait(timeout=30)
    _consistent(settings)


def test_a_publish_whose_index_write_was_cut_off_is_repaired_at_start(
    tmp_path: Path, kb_database_url: str | None
) -> None:
    settings = _settings(tmp_path, kb_database_url)
    (tmp_path / "articles").mkdir()
    (tmp_path / "articles" / "teams.yaml").write_bytes((STARTER_ARTICLES / "teams.yaml").read_bytes())
    kb = KnowledgeBase(settings, embedder=HashingEmbedder())
    try:
        kb.indexing.build()
        ivan = Principal("ivan", "agent", teams=frozenset({"IT"}))
        markdown = "---\ntitle: Cut off\nteam: IT\n---\n\n## Resolution\n\nBlorptastic fix.\n"
        saved = kb.publishing.create(markdown, ivan).article
        # The store commits the publish, then the process dies before the index is written.
        shown = parse_article(markdown)
        assert isinstance(shown, Article)
        kb.store.articles.change_state(saved.id, 1, "draft", "published", shown, 1)
        assert kb.indexing.catch_up() is not None
        assert "cut-off" in kb.indexing.searcher().index.docs
        assert kb.indexing.catch_up() is None  # in step now: a restart does nothing
    finally:
        kb.close()
