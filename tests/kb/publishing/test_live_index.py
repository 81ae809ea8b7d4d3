"""A publish updates the live index incrementally: one article embedded, every process sees it, and the answer
calibration is carried over, measured again off the request once KB_RECALIBRATE_AFTER articles changed."""

from __future__ import annotations

from pathlib import Path

import pytest

from indexer.generation import read_meta
from kb.service import KnowledgeBase
from kb.settings import Settings
from tests.conftest import copy_small_articles, publish_gizmo
from tests.fakes import HashingEmbedder

pytestmark = pytest.mark.both_stores


def _indexed(kb: KnowledgeBase) -> list[str]:
    """The articles the indexer embedded, oldest first, as the audit log records them."""
    return [e["target"] for e in reversed(kb.store.audit.recent(1000)) if e["action"] == "article.index"]


def test_a_publish_embeds_one_article_and_a_second_process_finds_it(
    tmp_path: Path, kb_database_url: str | None
) -> None:
    settings = Settings(
        data_dir=tmp_path / "data",
        articles_dir=copy_small_articles(tmp_path / "articles"),
        database_url=kb_database_url,
        multilingual=False,
    )
    first, second = (KnowledgeBase(settings, embedder=HashingEmbedder()) for _ in range(2))
    try:
        first.indexing.build()
        assert "snazzle" not in [h.article_id for h in second.search.find("snazzle gizmo hums", 5).hits]
        indexed_before = len(_indexed(first))
        publish_gizmo(first, "snazzle")
        assert _indexed(first)[indexed_before:] == ["snazzle"]  # only the new article was embedded: no rebuild
        # Another server over the same data dir loads the new generation on its next search.
        assert second.search.find("snazzle gizmo hums", 5).hits[0].article_id == "snazzle"
    finally:
        first.close()
        second.close()


def test_the_calibration_is_carried_until_enough_articles_changed(tmp_path: Path, kb_database_url: str | None) -> None:
    settings = Settings(
        data_dir=tmp_path / "data",
        articles_dir=copy_small_articles(tmp_path / "articles"),
        database_url=kb_database_url,
        multilingual=False,
        recalibrate_after=3,
    )
    kb = KnowledgeBase(settings, embedder=HashingEmbedder())
    try:
        kb.indexing.build()
        measured = read_meta(settings.index_dir)
        assert measured is not None and measured["changes_since_calibration"] == 0
        changes = []
        for number in range(3):
            publish_gizmo(kb, f"gizmo-{number}")
            meta = read_meta(settings.index_dir)
            assert meta is not None
            changes.append(meta["changes_since_calibration"])
            if number < 2:
                assert kb.indexing.recalibrate_if_due() is None  # not due yet
        assert changes == [1, 2, 3]  # a publish never measures it: it carries the last measure
        assert kb.indexing.recalibrate_if_due() is not None  # the maintenance schedule does, once due
        meta = read_meta(settings.index_dir)
        assert meta is not None and meta["changes_since_calibration"] == 0
    finally:
        kb.close()
