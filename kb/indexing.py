"""Articles → the indexer's plain documents → a new index generation, and the store kept in step."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from indexer.build import BuildReport, IndexDocument, Progress, build_index, build_lock
from indexer.chunking import SourceRecord
from indexer.embedders import Embedder
from kb.articles import Article, ArticleProblem, LoadResult, load_articles
from kb.errors import ArticleProblemsError, InvalidInput
from kb.search.calibration import TitleCalibrator
from kb.store import Store


@dataclass(frozen=True)
class IndexReport:
    articles: int
    problems: list[ArticleProblem]
    build: BuildReport
    warnings: list[ArticleProblem] = field(default_factory=list)


def to_document(article: Article) -> IndexDocument:
    records = [SourceRecord(article.id, article.title, s.heading, s.text) for s in article.sections]
    if not records:  # a title-only article is still findable by its title
        records = [SourceRecord(article.id, article.title, "", "")]
    return IndexDocument(
        doc_id=article.id,
        content_hash=article.content_hash,
        records=records,
        meta={"team": article.team, "audience": list(article.audience), "language": article.language},
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
) -> IndexReport:
    """Index the published articles; the store mirrors every loaded article (drafts included).

    The build lock is held until the store is in step too, so that two runs cannot leave the store mirroring
    one run's articles and the index the other's."""
    searchable = [a for a in loaded.articles if a.searchable]
    with build_lock(index_root, on_wait=on_wait):
        report = build_index(
            [to_document(a) for a in searchable],
            embedder,
            index_root,
            max_words=chunk_words,
            overlap=chunk_overlap,
            rebuild=rebuild,
            progress=progress,
            calibrator=TitleCalibrator(embedder),
        )
        # The store follows the index: a crash between the two leaves the store one build behind, which the
        # next run repairs; the index itself is never half-written.
        store.articles.sync(loaded.articles)
    return IndexReport(articles=len(searchable), problems=loaded.problems, build=report, warnings=loaded.warnings)
