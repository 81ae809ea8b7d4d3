"""The local copy: the articles a remote user may read, their sync cursor and an index of them, searched with the
server's Searcher, encoders and settings, so that it ranks the same articles as the server does.

What is visible changes only whole:
- a sync's pages are staged as they arrive, and applied (articles, tombstones, the new cursor) in one transaction
  once the last page is in: a sync cut off half-way leaves the copy as it was, and the next one goes on from the
  last staged page;
- the index is a generation built from the stored articles and swapped in atomically; the copy is searched only
  once its index matches the stored articles (a run killed between the two is repaired by the next search or sync).

A copy is a cache: a copy of another format is dropped and downloaded again."""

from __future__ import annotations

import json
import logging
import shutil
import sys
import tarfile
import tempfile
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from indexer.build import BuildReport, Progress
from indexer.embedders import Embedder, encoder_identity
from indexer.errors import IndexDamagedError, IndexMismatchError, IndexMissingError
from indexer.hybrid import HybridIndex
from indexer.load import load_index
from kb.access import Principal
from kb.articles import Article, parse_article
from kb.articles.model import Section
from kb.errors import RemoteUnavailable
from kb.indexing import build_generation, load_embedder, load_multilingual, new_searcher, vector_options
from kb.remote.config import private_folder
from kb.search import Searcher
from kb.search.searcher import SearchOutcome
from kb.search.service import check_search
from kb.settings import Settings
from kb.store.engine import create_engine
from kb.sync.bundle import ARTICLES, FORMAT, INDEX, MANIFEST, SEARCH_SETTINGS
from kb.teams import TeamDirectory

log = logging.getLogger(__name__)

COPY_FORMAT = "1"
# The copy holds only what its owner may read (the server chose): searching it needs no second filter.
COPY_READER = Principal(name="remote-copy", role="admin")

_metadata = sa.MetaData()
articles_table = sa.Table(
    "articles",
    _metadata,
    sa.Column("id", sa.String, primary_key=True),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("title", sa.String, nullable=False),
    sa.Column("team", sa.String),
    sa.Column("tags", sa.JSON, nullable=False),
    sa.Column("audience", sa.JSON, nullable=False),
    sa.Column("language", sa.String, nullable=False),
    sa.Column("translation_of", sa.String),
    sa.Column("updated", sa.String),
    sa.Column("markdown", sa.Text, nullable=False),
    sa.Column("sections", sa.JSON, nullable=False),  # parsed once, when the article arrives
)
state_table = sa.Table(
    "state", _metadata, sa.Column("key", sa.String, primary_key=True), sa.Column("value", sa.JSON, nullable=False)
)
pages_table = sa.Table(
    "staged_pages",
    _metadata,
    sa.Column("n", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("cursor", sa.String, nullable=False),
    sa.Column("body", sa.JSON, nullable=False),
)


@dataclass(frozen=True)
class CopyStatus:
    articles: int
    cursor: str | None
    synced_at: datetime | None
    staged_pages: int

    @property
    def age(self) -> str:
        """How old the copy is, as a person says it."""
        if self.synced_at is None:
            return "never synced"
        seconds = (datetime.now(UTC) - self.synced_at).total_seconds()
        for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
            if seconds >= size:
                count = int(seconds // size)
                return f"synced {count} {unit}{'s' if count > 1 else ''} ago"
        return "synced just now"


@dataclass(frozen=True)
class Applied:
    updated: int
    removed: int
    index: BuildReport


class LocalCopy:
    def __init__(self, folder: Path, embedder: Embedder | None = None) -> None:
        self.folder = private_folder(folder)
        self._engine: Engine = create_engine(f"sqlite:///{(folder / 'copy.sqlite3').resolve()}")
        _metadata.create_all(self._engine)
        if self._state("format") not in (None, COPY_FORMAT):
            log.warning("the local copy has another format: it is downloaded again")
            self.reset()
        self._embedder = embedder
        self._encoders: tuple[Embedder, Embedder | None] | None = None
        # The generation this copy last built or checked against its store, and the Searcher over it: a copy is
        # brought in step once per process (see `searcher`), not at every search.
        self._index: HybridIndex | None = None
        self._searcher: Searcher | None = None

    @property
    def index_root(self) -> Path:
        return self.folder / INDEX

    def close(self) -> None:
        self._engine.dispose()

    # State ----------------------------------------------------------------------------------------------------
    def status(self) -> CopyStatus:
        with self._engine.connect() as conn:
            count = conn.execute(sa.select(sa.func.count()).select_from(articles_table)).scalar_one()
            staged = conn.execute(sa.select(sa.func.count()).select_from(pages_table)).scalar_one()
        synced = self._state("synced_at")
        return CopyStatus(
            articles=int(count),
            cursor=self._state("cursor"),
            synced_at=datetime.fromisoformat(synced) if synced else None,
            staged_pages=int(staged),
        )

    def reset(self) -> None:
        """Forget everything (the server no longer knows our cursor, or the format changed): the next sync starts
        from a download bundle."""
        with self._engine.begin() as conn:
            for table in (articles_table, state_table, pages_table):
                conn.execute(sa.delete(table))
            _put(conn, "format", COPY_FORMAT)
        shutil.rmtree(self.index_root, ignore_errors=True)
        self._index = self._searcher = None

    def _state(self, key: str) -> Any:  # JSON
        with self._engine.connect() as conn:
            return conn.execute(sa.select(state_table.c.value).where(state_table.c.key == key)).scalar()

    def settings(self) -> Settings:
        return _settings(self._state("settings") or {}, self.folder)

    # A delta, page by page --------------------------------------------------------------------------------------
    def stage(self, page: dict[str, Any]) -> None:
        """Keep one page of a sync until the whole sync is in (committed: a run cut off resumes after it)."""
        _check_page(page)
        with self._engine.begin() as conn:
            conn.execute(sa.insert(pages_table).values(cursor=page["cursor"], body=page))

    def resume_cursor(self) -> str | None:
        """Where the next page starts: after the last staged page, else after the last applied sync."""
        with self._engine.connect() as conn:
            staged = conn.execute(sa.select(pages_table.c.cursor).order_by(pages_table.c.n.desc()).limit(1)).scalar()
        return str(staged) if staged is not None else self._state("cursor")

    def apply_staged(self, progress: Progress | None = None) -> Applied:
        """Apply every staged page, in order, in one transaction, then bring the index up to date."""
        updated = removed = 0
        with self._engine.begin() as conn:
            pages = conn.execute(sa.select(pages_table.c.body).order_by(pages_table.c.n)).scalars().all()
            for page in pages:
                for record in page["articles"]:
                    article = _parse(record)
                    conn.execute(sa.delete(articles_table).where(articles_table.c.id == str(record["id"])))
                    if article is not None:
                        _insert(conn, record, article)
                        updated += 1
                for gone in page["tombstones"]:
                    removed += conn.execute(sa.delete(articles_table).where(articles_table.c.id == gone)).rowcount
            if pages:
                _put(conn, "cursor", pages[-1]["cursor"])
            _put(conn, "synced_at", datetime.now(UTC).isoformat(timespec="seconds"))
            conn.execute(sa.delete(pages_table))
        return Applied(updated, removed, self.reindex(progress=progress))

    # A whole copy, from a download bundle ------------------------------------------------------------------------
    def install(self, archive: Path, progress: Progress | None = None) -> Applied:
        """Replace the copy with a download bundle's articles and index, in one transaction and one swap."""
        with tempfile.TemporaryDirectory(dir=self.folder, prefix=".bundle-") as staging:
            root = Path(staging)
            try:
                with tarfile.open(archive, "r:gz") as tar:
                    tar.extractall(root, filter="data")  # refuses absolute paths, links out, devices
                manifest = json.loads((root / MANIFEST).read_text(encoding="utf-8"))
                records = [json.loads(line) for line in (root / ARTICLES).read_text(encoding="utf-8").splitlines()]
            except (OSError, tarfile.TarError, ValueError, KeyError) as exc:
                archive.unlink(missing_ok=True)
                raise RemoteUnavailable(f"the download bundle is damaged ({exc}); sync again") from exc
            if manifest.get("format") != FORMAT:
                raise RemoteUnavailable(
                    f"the server's bundle format {manifest.get('format')} is not this client's ({FORMAT}): "
                    "update kb on this machine"
                )
            parsed = [(record, article) for record in records if (article := _parse(record)) is not None]
            settings = _settings(manifest.get("settings") or {}, self.folder)
            self._encoders = None  # the server's settings may name other encoders
            # The index first, then the articles it was built from: a run killed between the two leaves an index
            # ahead of the store, which the next sync installs again (the archive stays until then).
            donor = self._load(root / INDEX, settings)
            report = self._build([article for _, article in parsed], settings, donor, progress)
            with self._engine.begin() as conn:
                conn.execute(sa.delete(articles_table))
                conn.execute(sa.delete(pages_table))
                for record, article in parsed:
                    _insert(conn, record, article)
                _put(conn, "format", COPY_FORMAT)
                _put(conn, "cursor", manifest["cursor"])
                _put(conn, "settings", manifest.get("settings") or {})
                _put(conn, "synced_at", datetime.now(UTC).isoformat(timespec="seconds"))
        return Applied(len(parsed), 0, report)

    # The index ------------------------------------------------------------------------------------------------
    def reindex(self, progress: Progress | None = None) -> BuildReport:
        """A generation of the stored articles (nothing is written when the live one already is one)."""
        return self._build(self.articles(), self.settings(), None, progress)

    def _build(
        self, articles: list[Article], settings: Settings, donor: HybridIndex | None, progress: Progress | None
    ) -> BuildReport:
        """Vectors come from `donor` or the copy's previous generation: only articles neither holds are embedded
        here. The answer calibration is the server's, carried over, as the server's own searches use it."""
        embedder, multilingual = self.encoders(settings)
        report = build_generation(
            articles,
            self.index_root,
            settings,
            embedder,
            multilingual,
            progress=progress,
            recalibrate_after=sys.maxsize,
            donor=donor,
        )
        self._index, self._searcher = report.index, None
        return report

    def encoders(self, settings: Settings) -> tuple[Embedder, Embedder | None]:
        if self._encoders is None:
            embedder = self._embedder or load_embedder(settings)
            self._encoders = (embedder, load_multilingual(settings) if settings.multilingual else None)
        return self._encoders

    def _load(self, root: Path, settings: Settings) -> HybridIndex | None:
        """The index at `root` if these encoders can use its vectors (else the copy embeds the articles itself)."""
        embedder, multilingual = self.encoders(settings)
        try:
            return load_index(
                root, embedder.name, embedder.dimension, encoder_identity(multilingual), vector_options(settings)
            )
        except (IndexMissingError, IndexMismatchError, IndexDamagedError) as exc:
            log.warning("the bundle's index cannot be used here (%s): the articles are embedded on this machine", exc)
            return None

    def articles(self) -> list[Article]:
        with self._engine.connect() as conn:
            rows = conn.execute(sa.select(articles_table).order_by(articles_table.c.id)).all()
        return [_article(row._mapping) for row in rows]

    def searcher(self) -> Searcher:
        """The Searcher over an index that matches the stored articles. The first one of a process brings the index
        in step with the store (a run killed between a sync's commit and its index write); a sync keeps it so."""
        if self._searcher is None:
            if self._index is None:
                self.reindex()
            assert self._index is not None  # every build leaves the generation it built or kept in memory
            settings = self.settings()
            embedder, multilingual = self.encoders(settings)
            self._searcher = new_searcher(self._index, settings, embedder, multilingual, TeamDirectory([]))
        return self._searcher

    def search(self, query: str, limit: int) -> SearchOutcome:
        check_search(query, limit, self.settings())
        if self._state("cursor") is None:
            raise RemoteUnavailable("there is no local copy yet: run `kb remote sync` once while online")
        return self.searcher().search(query, limit, COPY_READER)


def _check_page(page: dict[str, Any]) -> None:
    if not (
        isinstance(page.get("articles"), list)
        and isinstance(page.get("tombstones"), list)
        and isinstance(page.get("cursor"), str)
    ):
        raise RemoteUnavailable("the server's sync page is not one this client reads: update kb on this machine")


def _put(conn: Connection, key: str, value: Any) -> None:
    conn.execute(sa.delete(state_table).where(state_table.c.key == key))
    conn.execute(sa.insert(state_table).values(key=key, value=value))


def _settings(server: dict[str, Any], folder: Path) -> Settings:
    """The server's search settings (from the bundle) over this machine's own (the model's path)."""
    return Settings(**{k: v for k, v in server.items() if k in SEARCH_SETTINGS}, data_dir=folder)


def _parse(record: dict[str, Any]) -> Article | None:
    """A synced article, parsed once when it arrives (None, logged, when its text does not parse here)."""
    article_id = str(record["id"])
    parsed = parse_article(record["markdown"], source=article_id, default_id=article_id, language=record["language"])
    if not isinstance(parsed, Article):
        log.warning("article %s from the server does not parse here (%s): left out of the copy", article_id, parsed)
        return None
    return replace(parsed, id=article_id)  # the server's id (a corpus may keep ids the parser would slug)


def _insert(conn: Connection, record: dict[str, Any], parsed: Article) -> None:
    conn.execute(
        sa.insert(articles_table).values(
            id=parsed.id,
            version=int(record.get("version") or 0),
            title=parsed.title,
            team=parsed.team,
            tags=list(parsed.tags),
            audience=list(parsed.audience),
            language=parsed.language,
            translation_of=parsed.translation_of,
            updated=parsed.updated,
            markdown=record["markdown"],
            sections=[[s.heading, s.text, s.line] for s in parsed.sections],
        )
    )


def _article(row: Any) -> Article:
    return Article(
        id=row["id"],
        title=row["title"],
        body="",
        sections=tuple(Section(heading, text, line) for heading, text, line in row["sections"]),
        team=row["team"],
        tags=tuple(row["tags"]),
        audience=tuple(row["audience"]),
        language=row["language"],
        updated=row["updated"],
        source=row["id"],
        translation_of=row["translation_of"],
        markdown=row["markdown"],
    )
