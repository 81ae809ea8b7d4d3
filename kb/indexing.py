"""Articles → the indexer's plain documents → a new index generation, and the store kept in step."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from indexer.build import BuildReport, IndexDocument, Progress, build_index, build_lock
from indexer.chunking import SourceRecord
from indexer.embedders import Embedder, encoder_identity
from indexer.errors import IndexDamagedError, IndexMismatchError, IndexMissingError, ModelUnavailableError
from indexer.generation import POINTER, current_generation
from indexer.load import load_index
from kb.articles import Article, ArticleProblem, LoadResult, load_articles
from kb.errors import ArticleProblemsError, IndexNotReady, InvalidInput
from kb.events import Announcement, EventRelay
from kb.language import shared_detector
from kb.search import Searcher
from kb.search.calibration import TitleCalibrator
from kb.settings import Settings
from kb.store import Store
from kb.teams import TeamDirectory

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class IndexReport:
    articles: int
    problems: list[ArticleProblem]
    build: BuildReport
    warnings: list[ArticleProblem] = field(default_factory=list)


def to_document(article: Article, originals: frozenset[str] | None = None) -> IndexDocument:
    """The indexer's document for `article`; it is grouped with its original only when that is among `originals`
    (the searchable articles that translate nothing), else it is searched as an article of its own."""
    records = [SourceRecord(article.id, article.title, s.heading, s.text) for s in article.sections]
    if not records:  # a title-only article is still findable by its title
        records = [SourceRecord(article.id, article.title, "", "")]
    meta: dict[str, object] = {"team": article.team, "audience": list(article.audience), "language": article.language}
    if article.translation_of and (originals is None or article.translation_of in originals):
        meta["translation_of"] = article.translation_of
    return IndexDocument(
        doc_id=article.id, content_hash=article.content_hash, records=records, meta=meta, language=article.language
    )


def read_articles(articles_dir: Path, *, max_bytes: int, strict: bool = False) -> LoadResult:
    """Load the folder; invalid files become problems, fatal only when `strict`, as are warnings (unknown
    front matter keys)."""
    if not articles_dir.is_dir():
        raise InvalidInput(f"articles folder not found: {articles_dir}", field="path")
    loaded = load_articles(articles_dir, max_bytes)
    found = loaded.problems + loaded.warnings
    if strict and found:
        raise ArticleProblemsError(f"{len(found)} problem(s) in the articles:\n" + "\n".join(str(p) for p in found))
    return loaded


def index_articles(
    loaded: LoadResult,
    index_root: Path,
    store: Store,
    embedder: Embedder,
    *,
    rebuild: bool = False,
    chunk_words: int = 160,
    chunk_overlap: int = 40,
    progress: Progress | None = None,
    on_wait: Callable[[], None] | None = None,
    multilingual: Embedder | None = None,
) -> IndexReport:
    """Index the published articles (with the `multilingual` encoder too, when given); the store mirrors every
    loaded article (drafts included).

    The build lock is held until the store is in step too, so that two runs cannot leave the store mirroring
    one run's articles and the index the other's."""
    searchable = [a for a in loaded.articles if a.searchable]
    originals = frozenset(a.id for a in searchable if not a.translation_of)
    with build_lock(index_root, on_wait=on_wait):
        report = build_index(
            [to_document(a, originals) for a in searchable],
            embedder,
            index_root,
            max_words=chunk_words,
            overlap=chunk_overlap,
            rebuild=rebuild,
            progress=progress,
            calibrator=TitleCalibrator(embedder, multilingual),
            multilingual=multilingual,
        )
        # The store follows the index: a crash between the two leaves the store one build behind, which the
        # next run repairs; the index itself is never half-written.
        store.articles.sync(loaded.articles)
    return IndexReport(articles=len(searchable), problems=loaded.problems, build=report, warnings=loaded.warnings)


@dataclass(frozen=True)
class IndexStatus:
    """`state` is ready, degraded (an older generation serves: the live one could not be loaded) or
    unavailable (nothing to serve)."""

    state: Literal["ready", "degraded", "unavailable"]
    serving: str | None
    unloadable: str | None


def load_embedder(settings: Settings) -> Embedder:
    from indexer.embedders.sentence_transformer import SentenceTransformerEmbedder

    try:
        return SentenceTransformerEmbedder(settings.model_path)
    except ModelUnavailableError as exc:
        raise IndexNotReady(str(exc), field="model_path") from exc


def load_multilingual() -> Embedder:
    """The multilingual encoder (one per process: see `shared_encoder`)."""
    from indexer.embedders.multilingual import shared_encoder

    try:
        return shared_encoder()
    except ModelUnavailableError as exc:
        raise IndexNotReady(str(exc), field="multilingual") from exc


class IndexingService:
    """The index's life: builds a generation from the articles (`build`) and serves the Searcher over the live
    one (`searcher`), reloading it when another process has swapped a new generation in."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        teams: TeamDirectory,
        relay: EventRelay,
        embedder: Embedder | None = None,
        multilingual: Embedder | None = None,
    ) -> None:
        self._settings = settings
        self._store = store
        self._teams = teams
        self._relay = relay
        self._embedder = embedder
        self._multilingual = multilingual
        self._searcher: Searcher | None = None
        self._unloadable: str | None = None  # the live generation that failed to load: not retried, logged once
        self._lock = threading.Lock()

    @property
    def embedder(self) -> Embedder:
        """The model, loaded on first use: `kb` commands that never embed start without it."""
        if self._embedder is None:
            self._embedder = load_embedder(self._settings)
        return self._embedder

    @property
    def multilingual(self) -> Embedder | None:
        """The multilingual encoder (None when KB_MULTILINGUAL is off), loaded on first use like the model."""
        if not self._settings.multilingual:
            return None
        if self._multilingual is None:
            self._multilingual = load_multilingual()
        return self._multilingual

    def build(
        self,
        *,
        strict: bool = False,
        rebuild: bool = False,
        progress: Progress | None = None,
        source: LoadResult | None = None,
        on_wait: Callable[[], None] | None = None,
    ) -> IndexReport:
        """Index `source`, or the articles folder of the settings when it is not given; `on_wait` is told when
        another build is running and this one waits for it."""
        settings = self._settings
        before = self._store.articles.audiences()
        loaded = (
            source
            if source is not None
            else read_articles(settings.articles_dir, strict=strict, max_bytes=settings.max_article_bytes)
        )
        report = index_articles(
            loaded,
            settings.index_dir,
            self._store,
            self.embedder,
            rebuild=rebuild,
            chunk_words=settings.chunk_words,
            chunk_overlap=settings.chunk_overlap_words,
            progress=progress,
            on_wait=on_wait,
            multilingual=self.multilingual,
        )
        self._searcher = None
        self._announce(report.build, before, self._store.articles.audiences())
        return report

    def _announce(self, build: BuildReport, before: dict[str, list[str]], after: dict[str, list[str]]) -> None:
        announcements = []
        for action, kind, ids, audiences in (
            ("article.index", "article.indexed", build.embedded, after),
            ("article.remove", "article.removed", build.removed, before),
        ):
            for article_id in ids:
                self._store.audit.add(actor="indexer", action=action, target=article_id, origin="cli")
                # Receivers are not readers: only articles meant for everyone are announced at all.
                if not audiences.get(article_id):
                    announcements.append(Announcement(kind, {"article_id": article_id}))
        self._relay.announce(announcements)

    def status(self) -> IndexStatus:
        """Whether searches are served, from which generation, and whether the live one failed to load."""
        try:
            serving = self.searcher().index.generation
        except IndexNotReady:
            return IndexStatus("unavailable", None, self._unloadable)
        return IndexStatus("degraded" if self._unloadable else "ready", serving, self._unloadable)

    def searcher(self) -> Searcher:
        """The Searcher over the live generation, reloaded when `kb index` has swapped in a new one.

        A live generation that cannot be loaded (damaged files, another model) does not take search down: the
        generation already in memory keeps serving, and the failure is logged once and reported by `status`
        until a loadable generation goes live."""
        live = current_generation(self._settings.index_dir)
        if (current := self._searcher_of(live)) is not None:
            return current
        with self._lock:
            # Another request may have loaded the new generation while this one waited for the lock.
            if (current := self._searcher_of(live)) is not None:
                return current
            # A pointer that is missing or names no folder is a fault too: never report "ready" over it.
            live_name = live.name if live else f"{POINTER} (missing, or naming no generation)"
            if self._searcher is not None and live_name == self._unloadable:
                return self._searcher
            try:
                index = load_index(
                    self._settings.index_dir,
                    self.embedder.name,
                    self.embedder.dimension,
                    encoder_identity(self.multilingual),
                )
            except (IndexMissingError, IndexMismatchError, IndexDamagedError) as exc:
                if live_name != self._unloadable and (live is not None or self._searcher is not None):
                    log.error("cannot load index generation %s: %s (%s)", live_name, exc, exc.__cause__ or "")
                self._unloadable = live_name
                if self._searcher is None:
                    raise IndexNotReady(str(exc)) from exc
                log.warning("still serving index generation %s", self._searcher.index.generation)
                return self._searcher
            self._unloadable = None
            self._searcher = Searcher(
                index,
                self.embedder,
                self._teams,
                multilingual=self.multilingual,
                detector=shared_detector(tuple(self._settings.languages)),
                answer_threshold=self._settings.answer_threshold,
                default_team=self._settings.default_team,
                max_query_chars=self._settings.max_query_chars,
                retriever=self._settings.retriever,
            )
            log.info("loaded index %s (%d chunks)", index.generation, index.size)
            return self._searcher

    def _searcher_of(self, live: Path | None) -> Searcher | None:
        """The loaded Searcher if it serves the live generation."""
        current = self._searcher
        if current is not None and live is not None and current.index.generation == live.name:
            return current
        return None
