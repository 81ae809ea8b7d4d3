"""`GET /v1/export/bundle`: everything a reader may read in one archive, so that a new device starts offline after
one download: the published articles, an index of them alone (the live generation's vectors and answer
calibration: nothing is embedded again), the cursor to sync on from, and the search settings the server answers
with, so that the copy ranks as the server does.

An archive is a file, built once per set of readable articles and kept while it is among the newest few: a
download that broke off resumes with a Range request against the same bytes (its ETag names the content)."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import os
import shutil
import tarfile
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from filelock import FileLock

from indexer.embedders import encoder_identity
from indexer.generation import POINTER
from indexer.hybrid import HybridIndex
from kb.access import Principal
from kb.articles import Article
from kb.indexing import IndexingService
from kb.settings import Settings
from kb.store.articles import ArticleRepository
from kb.sync.service import SyncedArticle, encode_cursor

log = logging.getLogger(__name__)

FORMAT = 1
MANIFEST = "manifest.json"
ARTICLES = "articles.jsonl"
INDEX = "index"
# The settings that decide how a copy chunks, embeds, ranks and answers: the server's travel with the bundle.
SEARCH_SETTINGS = (
    "encoder",
    "multilingual",
    "languages",
    "answer_threshold",
    "retriever",
    "default_team",
    "max_query_chars",
    "chunk_words",
    "chunk_overlap_words",
)
# Archives kept for downloads to resume against: enough for the distinct audiences of one busy hour.
KEEP = 16
SUFFIX = ".tar.gz"


@dataclass(frozen=True)
class Bundle:
    path: Path
    etag: str
    articles: int


def search_settings(settings: Settings) -> dict[str, Any]:
    return {name: getattr(settings, name) for name in SEARCH_SETTINGS}


class BundleService:
    def __init__(self, settings: Settings, articles: ArticleRepository, indexing: IndexingService) -> None:
        self._settings = settings
        self._articles = articles
        self._indexing = indexing
        self._folder = settings.data_dir / "bundles"

    def bundle(self, reader: Principal) -> Bundle:
        """The archive of what `reader` may read now (built unless an identical one is kept)."""
        # The cursor first: a change made while the archive is built is sent again by the next sync, never skipped.
        cursor = self._articles.last_change()
        articles, live = self._indexing.readable_now(reader)
        fingerprint = {
            "format": FORMAT,
            "articles": sorted((a.id, a.content_hash, a.team, list(a.audience)) for a in articles),
            "model": live.meta.get("model"),
            "index_format": live.meta.get("format"),  # a kept archive of an older index layout is not served
            "multilingual": encoder_identity(self._indexing.multilingual),
            "calibration": live.meta.get("calibration"),
            "settings": search_settings(self._settings),
        }
        key = hashlib.sha256(json.dumps(fingerprint, sort_keys=True, default=str).encode()).hexdigest()[:32]
        self._folder.mkdir(parents=True, exist_ok=True)
        path = self._folder / f"{key}{SUFFIX}"
        with FileLock(self._folder / ".lock"):  # one build at a time: two readers alike share one
            if not path.exists():
                self._write(path, articles, live, cursor)
            with contextlib.suppress(OSError):
                os.utime(path)  # recently used: kept
            self._prune()
        return Bundle(path, f'"{key}"', len(articles))

    def _write(self, path: Path, articles: list[Article], live: HybridIndex, cursor: int) -> None:
        """Build the archive in a staging folder beside it and rename it in: never a half-written archive."""
        with tempfile.TemporaryDirectory(dir=self._folder, prefix=".build-") as staging:
            root = Path(staging)
            build = self._indexing.build_elsewhere(articles, root / INDEX, live)
            # The texts the index was built from (the shown versions, as parsed), with their stored metadata.
            stored = self._articles.get_many([a.id for a in articles])
            records = [SyncedArticle(stored[a.id], a.markdown).record() for a in articles if a.id in stored]
            manifest = {
                "format": FORMAT,
                "cursor": encode_cursor(cursor),
                "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "articles": len(records),
                "generation": build.generation,
                "settings": search_settings(self._settings),
            }
            partial = root / f"bundle{SUFFIX}"
            with tarfile.open(partial, "w:gz", compresslevel=6) as tar:
                _add_bytes(tar, MANIFEST, json.dumps(manifest, indent=2).encode())
                lines = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
                _add_bytes(tar, ARTICLES, lines.encode())
                index_root = root / INDEX
                tar.add(index_root / POINTER, f"{INDEX}/{POINTER}")
                tar.add(index_root / build.generation, f"{INDEX}/{build.generation}")
            with partial.open("rb") as written:
                os.fsync(written.fileno())
            os.replace(partial, path)
        log.info("download bundle %s: %d articles, %d bytes", path.name, len(records), path.stat().st_size)

    def _prune(self) -> None:
        """Keep the newest few archives; remove staging folders of builds that died."""
        kept = sorted(self._folder.glob(f"*{SUFFIX}"), key=lambda p: p.stat().st_mtime, reverse=True)
        for old in kept[KEEP:]:
            old.unlink(missing_ok=True)
        for leftover in self._folder.glob(".build-*"):
            if leftover.is_dir() and _older_than(leftover, 3600):
                shutil.rmtree(leftover, ignore_errors=True)


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = int(datetime.now(UTC).timestamp())
    tar.addfile(info, io.BytesIO(data))


def _older_than(path: Path, seconds: float) -> bool:
    try:
        return datetime.now(UTC).timestamp() - path.stat().st_mtime > seconds
    except OSError:
        return False
