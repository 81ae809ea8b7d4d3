"""Servers on one database, each with its own index: what one publishes, the others' followers apply, without
embedding what their index already holds and without announcing it a second time."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from kb.service import KnowledgeBase
from kb.settings import Settings
from kb.store import schema
from tests.conftest import REVIEWER, WRITER, copy_small_articles, publish_gizmo
from tests.fakes import HashingEmbedder

pytestmark = pytest.mark.both_stores


def _found(kb: KnowledgeBase, slug: str) -> bool:
    return slug in [hit.article_id for hit in kb.search.find(f"{slug} gizmo hums", 5).hits]


@pytest.fixture
def servers(tmp_path: Path, database_url: str) -> Iterator[tuple[KnowledgeBase, KnowledgeBase]]:
    """Two servers over one store, each with its own data dir and index; the first imported the articles."""
    database = database_url
    articles = copy_small_articles(tmp_path / "articles")
    first = KnowledgeBase(
        Settings(
            data_dir=tmp_path / "a",
            articles_dir=articles,
            database_url=database,
            multilingual=False,
            follow_seconds=0.05,
        ),
        embedder=HashingEmbedder(),
    )
    first.indexing.build()
    second = KnowledgeBase(
        Settings(
            data_dir=tmp_path / "b",
            articles_dir=tmp_path / "none",
            teams_file=articles / "teams.yaml",
            database_url=database,
            multilingual=False,
            follow_seconds=0.05,
        ),
        embedder=HashingEmbedder(),
    )
    try:
        yield first, second
    finally:
        first.close()
        second.close()


def test_a_server_with_no_index_builds_one_from_the_store_and_then_follows_publishes(
    servers: tuple[KnowledgeBase, KnowledgeBase],
) -> None:
    first, second = servers
    assert second.indexing.status().serving is None

    second.follower.follow_once()
    assert second.search.find("vpn drops on hotel wifi", 5).hits[0].article_id == "vpn-drops-on-public-wifi"

    publish_gizmo(first, "snazzle")
    assert not _found(second, "snazzle")
    assert second.follower.follow_once() > 0
    assert _found(second, "snazzle")
    status = second.follower.status()
    assert status.caught_up and status.lag_changes == 0 and status.lag_seconds == 0
    assert status.applied == first.store.change_log.head()


def test_a_follower_neither_embeds_what_its_index_holds_nor_announces_a_change_again(
    servers: tuple[KnowledgeBase, KnowledgeBase],
) -> None:
    first, second = servers
    second.follower.follow_once()
    publish_gizmo(first, "snazzle")
    generation = first.indexing.status().serving

    first.follower.follow_once()  # its own publish: the index already holds it
    second.follower.follow_once()

    assert first.indexing.status().serving == generation
    indexed = [e["target"] for e in first.store.audit.recent(1000) if e["action"] == "article.index"]
    assert indexed.count("snazzle") == 1  # embedded and announced by the server that published it, only
    assert _events(first, "snazzle") == [("article.indexed", True)]  # recorded once, with the change; handed on


def _events(kb: KnowledgeBase, article_id: str) -> list[tuple[str, bool]]:
    """(kind, dispatched) of every event recorded about `article_id`."""
    table = schema.pending_events
    with kb.store.engine.connect() as conn:
        rows = conn.execute(sa.select(table).order_by(table.c.id)).all()
    return [(r.kind, r.dispatched_at is not None) for r in rows if (r.data or {}).get("article_id") == article_id]


def test_an_article_event_is_recorded_once_even_when_a_follower_indexes_the_change_first(
    servers: tuple[KnowledgeBase, KnowledgeBase], monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = servers
    second.follower.follow_once()
    index_after_publishing = first.publishing._on_change

    def follower_first() -> object:
        # The race: the change is committed, and the server's own follower (woken by it) indexes it before the
        # publishing request does.
        first.follower.follow_once()
        return index_after_publishing()

    monkeypatch.setattr(first.publishing, "_on_change", follower_first)
    publish_gizmo(first, "snazzle")
    second.follower.follow_once()

    assert _found(first, "snazzle") and _found(second, "snazzle")
    assert _events(first, "snazzle") == [("article.indexed", True)]


def test_a_change_of_audience_alone_reaches_the_follower(servers: tuple[KnowledgeBase, KnowledgeBase]) -> None:
    first, second = servers
    publish_gizmo(first, "snazzle")
    second.follower.follow_once()
    assert _found(second, "snazzle")
    current = first.publishing.newest("snazzle", WRITER)
    restricted = current.markdown.replace("team: IT\n", "team: IT\naudience: [hr]\n")
    first.publishing.update("snazzle", restricted, WRITER, frozenset({current.article.etag}))
    first.publishing.transition("snazzle", "review", WRITER, None)
    first.publishing.transition("snazzle", "published", REVIEWER, None)

    second.follower.follow_once()

    assert not _found(second, "snazzle")  # an employee outside hr no longer finds it, on any server
    assert _events(first, "snazzle") == [("article.indexed", True), ("article.removed", True)]


def test_unpublishing_reaches_the_follower_too(servers: tuple[KnowledgeBase, KnowledgeBase]) -> None:
    first, second = servers
    publish_gizmo(first, "snazzle")
    second.follower.follow_once()
    assert _found(second, "snazzle")

    first.publishing.transition("snazzle", "archived", REVIEWER, None)
    second.follower.follow_once()

    assert not _found(second, "snazzle")


def test_the_follower_thread_applies_a_publish_within_a_second(servers: tuple[KnowledgeBase, KnowledgeBase]) -> None:
    first, second = servers
    second.follower.start()
    publish_gizmo(first, "snazzle")
    published = time.monotonic()
    while not _found(second, "snazzle"):
        assert time.monotonic() - published < 2, "the follower did not apply the publish within 2 s"
        time.sleep(0.02)


def test_every_server_adopts_the_calibration_the_shared_maintenance_measured(
    servers: tuple[KnowledgeBase, KnowledgeBase],
) -> None:
    first, second = servers
    second.follower.follow_once()
    measured = dict(first.indexing.searcher().index.meta["calibration"])
    # As if the articles had moved it: a title score no build of this KB gives.
    moved = measured | {"title_score": 0.123}
    first.store.calibrations.add(moved, datetime.now(UTC))

    second.follower.follow_once()

    assert second.indexing.searcher().calibration.title_score == 0.123
    publish_gizmo(second, "snazzle")  # the next generation carries it
    assert second.indexing.searcher().index.meta["calibration"]["title_score"] == 0.123


def test_recalibrating_stores_the_calibration_for_the_other_servers(tmp_path: Path, database_url: str) -> None:
    settings = Settings(
        data_dir=tmp_path / "data",
        articles_dir=copy_small_articles(tmp_path / "articles"),
        database_url=database_url,
        multilingual=False,
        recalibrate_after=1,
    )
    kb = KnowledgeBase(settings, embedder=HashingEmbedder())
    try:
        kb.indexing.build()
        publish_gizmo(kb, "snazzle")
        assert kb.store.calibrations.latest() is None  # a publish carries the calibration over

        assert kb.maintenance.run_once().shared  # alone: it holds the lease, and recalibration is due
        stored = kb.store.calibrations.latest()
        assert stored is not None and stored.data == kb.indexing.searcher().index.meta["calibration"]
    finally:
        kb.close()


def test_a_restarted_server_reads_only_the_changes_after_its_generation(
    servers: tuple[KnowledgeBase, KnowledgeBase],
) -> None:
    first, second = servers
    publish_gizmo(first, "wobbler")
    settings = first.settings
    first.close()
    second.follower.follow_once()
    publish_gizmo(second, "quibble")

    restarted = KnowledgeBase(settings, embedder=HashingEmbedder())
    try:
        # Its generation holds everything up to its own publish: the other server's publish is all it reads.
        assert restarted.follower.follow_once() == 1
        assert _found(restarted, "wobbler") and _found(restarted, "quibble")
        assert restarted.follower.status().applied == second.store.change_log.head()
    finally:
        restarted.close()


def test_a_generation_built_from_another_stores_log_is_followed_from_the_first_change(
    servers: tuple[KnowledgeBase, KnowledgeBase], tmp_path: Path
) -> None:
    first, _ = servers
    settings = first.settings
    first.close()
    # Another store, whose first change is a publish: under the number the generation recorded from the first
    # store's log, this log holds another change (or none).
    other_url = f"sqlite:///{tmp_path / 'other.sqlite3'}"
    other = KnowledgeBase(
        settings.model_copy(update={"data_dir": tmp_path / "other", "database_url": other_url}),
        embedder=HashingEmbedder(),
    )
    publish_gizmo(other, "flummox")
    other.close()

    moved = KnowledgeBase(settings.model_copy(update={"database_url": other_url}), embedder=HashingEmbedder())
    try:
        assert moved.follower.follow_once() >= 1
        assert _found(moved, "flummox")
    finally:
        moved.close()
