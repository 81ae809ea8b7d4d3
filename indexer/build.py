"""Build and persist the search index: incremental (content hashes) and atomic (generation folders).

The layout of an index root is described in indexer.generation; reading a generation is indexer.load's job.

A build writes a fresh generation folder and only then swaps CURRENT, so a crash or kill at any moment
leaves the previous generation live and loadable. Stale generations are removed on the next build, which
holds the lock: a staging folder it finds belongs to a builder that died.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
from filelock import FileLock, Timeout

from indexer.analysis import ENGLISH, word_counts
from indexer.body_vectors import BodyVectors, body_text, sharing_title
from indexer.chunking import Chunk, SourceRecord, chunk_records
from indexer.embedders import Embedder, Vectors, encoder_identity
from indexer.errors import IndexDamagedError, IndexMismatchError, IndexMissingError
from indexer.generation import (
    BODY_VECTORS,
    CHUNKS,
    FORMAT_VERSION,
    KEYWORDS,
    LOCK,
    META,
    MULTILINGUAL_VECTORS,
    POINTER,
    VECTORS,
    VOCABULARY,
    current_generation,
)
from indexer.hybrid import HybridIndex
from indexer.keyword_index import Bm25KeywordIndex
from indexer.load import load_index
from indexer.vector_index import DEFAULT_OPTIONS, FaissVectorIndex, VectorOptions

log = logging.getLogger(__name__)


class Calibrator(Protocol):
    """Measures what the searcher must know about a new generation (its answer calibration) before it goes live.

    The indexer stores the result in the generation's meta.json without reading it; `version` decides whether
    a generation's stored result is still valid, so an unchanged KB is re-measured when the method changes.
    """

    @property
    def version(self) -> str: ...

    def __call__(self, index: HybridIndex) -> dict[str, Any]: ...


class Progress(Protocol):
    """Reports embedding progress; the CLI shows a bar, library callers may pass nothing."""

    def start(self, total: int) -> None: ...

    def advance(self, count: int) -> None: ...


@dataclass(frozen=True)
class IndexDocument:
    """A document to index: its sections, a hash of everything that affects its chunks, the language its keyword
    terms are analysed in, opaque metadata, and the scope within which documents that share its title are its
    siblings (indexer.body_vectors: kb passes the audience)."""

    doc_id: str
    content_hash: str
    records: Sequence[SourceRecord]
    meta: dict[str, Any] = field(default_factory=dict)
    language: str = ENGLISH
    scope: str = ""

    @property
    def title(self) -> str:
        return self.records[0].title if self.records else ""


@dataclass(frozen=True)
class BuildReport:
    embedded: list[str]
    reused: list[str]
    removed: list[str]
    chunks: int
    generation: str
    changed: bool
    # The generation in memory, as written (the builder's process can serve it without reading it back).
    index: HybridIndex | None = field(default=None, compare=False, repr=False)


def _chunk_params(max_words: int, overlap: int) -> dict[str, int]:
    return {"max_words": max_words, "overlap": overlap}


def _write_json(path: Path, data: Any) -> None:
    # No indent: only the compact form goes through json's C encoder (ten times faster on a large KB's meta).
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _swap_pointer(root: Path, generation: str) -> None:
    tmp = root / f".{POINTER}.{uuid.uuid4().hex}"
    tmp.write_text(generation + "\n", encoding="utf-8")
    _fsync_file(tmp)
    os.replace(tmp, root / POINTER)
    # Make the rename itself durable where the platform allows opening a directory.
    with contextlib.suppress(OSError):
        _fsync_file(root)


@contextlib.contextmanager
def build_lock(root: Path, *, on_wait: Callable[[], None] | None = None) -> Iterator[None]:
    """Hold the index root's build lock, waiting for a build that holds it (`on_wait` is told that it does).

    Re-entrant within a thread (one lock object per root and thread), so a caller that must keep the lock
    across a build and its own bookkeeping can take it around `build_index`, which takes it too.
    """
    root.mkdir(parents=True, exist_ok=True)
    lock = FileLock(root / LOCK, is_singleton=True)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        if on_wait is not None:
            on_wait()
        lock.acquire()
    try:
        yield
    finally:
        lock.release()


def _remove_stale(root: Path, keep: set[str]) -> None:
    """Remove staging leftovers of killed builds and generations other than `keep` and the live one.

    Called with the build lock held, so no other build is writing a staging folder; CURRENT is read again here
    rather than trusted from the caller, so that the generation serving searches is never the one removed.
    """
    live = current_generation(root)
    keep = keep | ({live.name} if live else set())
    for entry in root.iterdir():
        stale_generation = entry.is_dir() and entry.name.startswith(("gen-", ".gen-")) and entry.name not in keep
        stale_pointer = entry.is_file() and entry.name.startswith(f".{POINTER}.")
        if stale_generation:
            shutil.rmtree(entry, ignore_errors=True)
        elif stale_pointer:
            entry.unlink(missing_ok=True)


def _previous(
    root: Path,
    embedder: Embedder,
    multilingual: Embedder | None,
    params: dict[str, int],
    loaded: HybridIndex | None,
    donor: HybridIndex | None = None,
) -> tuple[HybridIndex | None, dict[str, Any]]:
    """The generation whose vectors are reused with these encoders and chunking: `donor` when it fits, else the
    live one: `loaded` when it is that generation already in memory (a server publishing need not read it again),
    else read from disk."""
    live = current_generation(root)
    if donor is not None and _fits(donor, embedder, multilingual, params):
        return donor, dict(donor.docs)
    if (
        loaded is not None
        and live is not None
        and loaded.generation == live.name
        and _fits(loaded, embedder, multilingual, params)
    ):
        return loaded, dict(loaded.docs)
    try:
        previous = load_index(root, embedder.name, embedder.dimension, encoder_identity(multilingual))
    except (IndexMissingError, IndexMismatchError, IndexDamagedError) as exc:
        log.info("full rebuild: %s", exc)
        return None, {}
    if previous.meta.get("chunking") != params:
        log.info("full rebuild: chunking parameters changed")
        return None, {}
    return previous, dict(previous.docs)


def _lay_out(
    documents: Sequence[IndexDocument],
    unchanged_ids: set[str],
    previous: HybridIndex | None,
    previous_docs: dict[str, Any],
    chunks_by_doc: dict[str, list[Chunk]],
) -> tuple[list[Chunk], list[int], list[str], dict[str, dict[str, Any]], list[slice | npt.NDArray[np.int64]]]:
    """The new generation's rows in document order, before any vector exists: the chunks, per row the previous
    generation's row it reuses (or -1), each row's language, the documents' metadata, and per document where its
    vectors come from (a slice of the freshly encoded texts, or the previous generation's rows)."""
    rows: list[Chunk] = []
    reuse: list[int] = []
    languages: list[str] = []
    docs_meta: dict[str, dict[str, Any]] = {}
    sources: list[slice | npt.NDArray[np.int64]] = []
    offset = 0
    for doc in documents:
        if doc.doc_id in unchanged_ids and previous is not None:
            old_rows = np.asarray(previous_docs[doc.doc_id]["rows"], dtype=np.int64)
            doc_rows = [previous.chunk(int(r)) for r in old_rows]
            reuse.extend(old_rows.tolist())
            sources.append(old_rows)
        else:
            doc_rows = chunks_by_doc[doc.doc_id]
            reuse.extend([-1] * len(doc_rows))
            sources.append(slice(offset, offset + len(doc_rows)))
            offset += len(doc_rows)
        start = len(rows)
        rows.extend(doc_rows)
        languages.extend([doc.language] * len(doc_rows))
        docs_meta[doc.doc_id] = {
            "hash": doc.content_hash,
            "rows": list(range(start, len(rows))),
            "language": doc.language,
            "scope": doc.scope,  # which documents share its title (indexer.body_vectors): a change is a new generation
            **doc.meta,
        }
    return rows, reuse, languages, docs_meta, sources


class _BodyPlan:
    """The rows that get a text-alone vector (indexer.body_vectors): the chunks of documents that share their title
    within their scope. A row reuses its previous generation's text-alone vector when it had one; the others' texts
    are encoded."""

    def __init__(
        self,
        rows: Sequence[Chunk],
        reuse: Sequence[int],
        documents: Sequence[IndexDocument],
        previous: HybridIndex | None,
    ) -> None:
        sharing = sharing_title(documents)
        self.rows = np.array([r for r, chunk in enumerate(rows) if chunk.doc_id in sharing], dtype=np.int64)
        self._size = len(rows)
        self._kept: dict[int, Vectors] = {}
        self.texts: list[str] = []
        for row in self.rows.tolist():
            kept = previous.body_vector(reuse[row]) if previous is not None and reuse[row] >= 0 else None
            if kept is None:
                self.texts.append(body_text(rows[row]))
            else:
                self._kept[row] = kept

    def vectors(self, encoded: Vectors, dimension: int) -> BodyVectors:
        if len(encoded) != len(self.texts):
            raise ValueError(f"{len(encoded)} text-alone vectors for {len(self.texts)} texts")
        if not len(self.rows):
            return BodyVectors.empty(self._size, dimension)
        fresh = iter(encoded)
        stacked = np.vstack([self._kept[row] if row in self._kept else next(fresh) for row in self.rows.tolist()])
        return BodyVectors(self.rows, stacked, self._size, dimension)


def _fits(index: HybridIndex, embedder: Embedder, multilingual: Embedder | None, params: dict[str, int]) -> bool:
    """Whether `index`'s vectors were made by these encoders over chunks cut this way."""
    return (
        index.meta.get("model") == embedder.name
        and index.meta.get("dimension") == embedder.dimension
        and index.meta.get("multilingual") == encoder_identity(multilingual)
        and index.meta.get("chunking") == params
    )


def build_index(
    documents: Sequence[IndexDocument],
    embedder: Embedder,
    root: Path,
    *,
    max_words: int = 160,
    overlap: int = 40,
    rebuild: bool = False,
    progress: Progress | None = None,
    calibrator: Calibrator | None = None,
    on_wait: Callable[[], None] | None = None,
    multilingual: Embedder | None = None,
    recalibrate_after: int | None = None,
    live: HybridIndex | None = None,
    donor: HybridIndex | None = None,
    vector_options: VectorOptions = DEFAULT_OPTIONS,
    source_mark: Mapping[str, Any] | None = None,
) -> BuildReport:
    """Write a new generation for `documents`, embedding only documents whose content hash changed (with
        `embedder`, and with the `multilingual` encoder into a second vector index when one is given), and
        measured by `calibrator` before it goes live (an unchanged KB is re-measured when its version changes).
        With `recalibrate_after`, the previous generation's calibration is carried over until that many documents
        have changed since it was measured (a live publish need not re-measure the whole KB). `live` is the live
        generation if the caller holds it in memory: it is reused rather than read from disk. `donor` is a generation of
    another root (the server's for a download bundle, a downloaded bundle's for a remote copy): when its encoders and
    chunking fit, it stands in for the live generation, so only documents it lacks are embedded. `source_mark` is
    recorded as what the documents' source says of the version they were read at (for whoever follows that source).

        One build at a time per root: a second one waits for the build lock (`on_wait` is told that it does)."""
    with build_lock(root, on_wait=on_wait):
        return _build(
            documents,
            embedder,
            multilingual,
            root,
            max_words,
            overlap,
            rebuild,
            progress,
            calibrator,
            recalibrate_after,
            live,
            donor,
            vector_options,
            source_mark,
        )


def _build(
    documents: Sequence[IndexDocument],
    embedder: Embedder,
    multilingual: Embedder | None,
    root: Path,
    max_words: int,
    overlap: int,
    rebuild: bool,
    progress: Progress | None,
    calibrator: Calibrator | None,
    recalibrate_after: int | None,
    loaded: HybridIndex | None,
    donor: HybridIndex | None,
    vector_options: VectorOptions,
    source_mark: Mapping[str, Any] | None,
) -> BuildReport:
    params = _chunk_params(max_words, overlap)
    live = current_generation(root)
    _remove_stale(root, keep={live.name} if live else set())
    previous, previous_docs = (None, {}) if rebuild else _previous(root, embedder, multilingual, params, loaded, donor)

    new_ids = {d.doc_id for d in documents}
    # A document is reused only as it was analysed: the same text in the same language (its keyword terms and
    # spelling words depend on the language).
    unchanged = [
        d
        for d in documents
        if d.doc_id in previous_docs
        and previous_docs[d.doc_id]["hash"] == d.content_hash
        and previous_docs[d.doc_id].get("language", ENGLISH) == d.language
    ]
    unchanged_ids = {d.doc_id for d in unchanged}
    to_embed = [d for d in documents if d.doc_id not in unchanged_ids]
    removed = sorted(set(previous_docs) - new_ids)
    carried = int(previous.meta.get("changes_since_calibration", 0)) if previous is not None else 0
    due = recalibrate_after is not None and carried >= recalibrate_after
    calibrated = calibrator is None or (
        previous is not None and _calibrated(previous.meta, calibrator.version) and not due
    )
    # A donor lives in another root: this root gets a generation of its own even when nothing differs.
    same = previous is not None and previous is not donor and not to_embed and not removed
    if same and previous is not None and _same_meta(previous_docs, documents) and calibrated:
        return BuildReport([], sorted(unchanged_ids), [], previous.size, previous.generation, False, previous)

    chunks_by_doc = {d.doc_id: chunk_records(d.records, max_words, overlap) for d in to_embed}
    texts = [c.embedding_text for chunks in chunks_by_doc.values() for c in chunks]
    encoders = [embedder] if multilingual is None else [embedder, multilingual]
    rows, reuse, languages, docs_meta, sources = _lay_out(
        documents, unchanged_ids, previous, previous_docs, chunks_by_doc
    )
    bodies = _BodyPlan(rows, reuse, documents, previous)
    if progress is not None:
        progress.start(len(texts) * len(encoders) + len(bodies.texts))
    # The encoders run side by side, and beside the keyword build below: the ONNX encoder and BLAS work outside
    # the GIL, the keyword analysis inside it, so the three overlap instead of adding up. The English encoder reads
    # the text-alone texts in the same call (one length-sorted pass over every core, not two competing ones).
    advance = progress.advance if progress is not None else None
    pool = ThreadPoolExecutor(len(encoders), thread_name_prefix="kb-index")
    english = pool.submit(embedder.encode, texts + bodies.texts, advance)
    others = [pool.submit(encoder.encode, texts, advance) for encoder in encoders[1:]]
    try:
        keyword_texts = [r.embedding_text for r in rows]
        keyword_index = Bm25KeywordIndex.build(
            keyword_texts, languages, previous=previous.keywords if previous is not None else None, reuse=reuse
        )
        titled_and_bodies = english.result()
        encoded = [titled_and_bodies[: len(texts)], *(future.result() for future in others)]
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    body_vectors = bodies.vectors(titled_and_bodies[len(texts) :], embedder.dimension)
    parts: list[list[Vectors]] = [[] for _ in encoders]
    for position, kept in enumerate(parts):
        for source in sources:
            if isinstance(source, slice):
                kept.append(encoded[position][source])
            else:
                assert previous is not None  # only a previous generation's rows are reused
                kept.append(previous.stored_vectors(source, encoder=position))

    generation = f"gen-{datetime.now(UTC).strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}"
    staging = root / f".{generation}"
    staging.mkdir()
    vector_indexes = [
        FaissVectorIndex.build(
            np.vstack(kept) if kept else np.zeros((0, encoder.dimension), dtype=np.float32),
            encoder.dimension,
            vector_options,
        )
        for encoder, kept in zip(encoders, parts, strict=True)
    ]
    vector_index, *second = vector_indexes
    vector_index.save(staging / VECTORS)
    if second:
        second[0].save(staging / MULTILINGUAL_VECTORS)
    body_vectors.save(staging / BODY_VECTORS)
    keyword_index.save(staging / KEYWORDS)
    vocabulary = _vocabulary(previous, previous_docs, unchanged_ids, keyword_texts, languages, reuse)
    _write_json(staging / VOCABULARY, vocabulary)
    encode = json.JSONEncoder(ensure_ascii=False).encode
    with (staging / CHUNKS).open("w", encoding="utf-8") as out:
        # vars(), not asdict(): a chunk holds only strings, and asdict deep-copies each of them.
        out.writelines(encode(vars(row)) + "\n" for row in rows)
    meta: dict[str, Any] = {
        "format": FORMAT_VERSION,
        "model": embedder.name,
        "dimension": embedder.dimension,
        "multilingual": encoder_identity(multilingual),
        "chunk_count": len(rows),
        "doc_count": len(documents),
        "chunking": params,
        "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "source": dict(source_mark) if source_mark is not None else None,
        "docs": docs_meta,
    }
    staged = HybridIndex(
        vector_index,
        keyword_index,
        rows,
        docs_meta,
        meta,
        generation,
        vocabulary,
        second[0] if second else None,
        body_vectors,
    )
    if calibrator is not None:
        changes = len(to_embed) + len(removed) + carried
        if recalibrate_after is not None and calibrated and previous is not None and changes < recalibrate_after:
            meta["calibration"] = previous.meta["calibration"]
            meta["changes_since_calibration"] = changes
        else:
            meta["calibration"] = calibrator(staged)
            meta["changes_since_calibration"] = 0
    _write_json(staging / META, meta)
    os.replace(staging, root / generation)
    _swap_pointer(root, generation)
    # The previous generation stays one more build: a server that read the old pointer a moment ago may still
    # be loading its files.
    _remove_stale(root, keep={generation} | ({live.name} if live else set()))
    return BuildReport(
        embedded=sorted(d.doc_id for d in to_embed),
        reused=sorted(unchanged_ids),
        removed=removed,
        chunks=len(rows),
        generation=generation,
        changed=True,
        index=staged,
    )


def _vocabulary(
    previous: HybridIndex | None,
    previous_docs: dict[str, Any],
    unchanged_ids: set[str],
    texts: Sequence[str],
    languages: Sequence[str],
    reuse: Sequence[int],
) -> dict[str, int]:
    """The words a misspelt query word may be corrected to: the English chunks' (corrections are English's). From
    the previous generation's counts, less the chunks that left and plus the new ones, when there is one."""
    fresh = word_counts(
        text
        for text, language, source in zip(texts, languages, reuse, strict=True)
        if language == ENGLISH and source < 0
    )
    if previous is None:
        return fresh
    counts = Counter(previous.vocabulary)
    counts.update(fresh)
    for doc_id, doc in previous_docs.items():
        if doc_id in unchanged_ids or (doc.get("language") or ENGLISH) != ENGLISH:
            continue
        counts.subtract(word_counts(previous.chunk(int(row)).embedding_text for row in doc["rows"]))
    return {word: count for word, count in counts.items() if count > 0}


def _calibrated(meta: dict[str, Any], version: str) -> bool:
    calibration = meta.get("calibration")
    return isinstance(calibration, dict) and calibration.get("version") == version


def _same_meta(previous_docs: dict[str, Any], documents: Sequence[IndexDocument]) -> bool:
    """True when no document's carried metadata changed (metadata alone needs no re-embedding)."""
    for doc in documents:
        old = {k: v for k, v in previous_docs[doc.doc_id].items() if k not in ("hash", "rows", "language", "scope")}
        if old != {k: v for k, v in json.loads(json.dumps(doc.meta)).items() if k != "language"}:
            return False
        if previous_docs[doc.doc_id].get("scope", "") != doc.scope:
            return False
    return True
