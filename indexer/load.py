"""Loading the live generation for reading, refusing one that another model built or that is damaged."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from indexer.analysis import word_counts
from indexer.body_vectors import BodyVectors
from indexer.chunking import Chunk
from indexer.errors import IndexDamagedError, IndexMismatchError, IndexMissingError
from indexer.generation import (
    BODY_VECTORS,
    CHUNKS,
    FORMAT_VERSION,
    KEYWORDS,
    META,
    MULTILINGUAL_VECTORS,
    VECTORS,
    VOCABULARY,
    current_generation,
)
from indexer.hybrid import HybridIndex
from indexer.keyword_index import Bm25KeywordIndex
from indexer.vector_index import DEFAULT_OPTIONS, FaissVectorIndex, VectorOptions


def load_index(
    root: Path,
    model_name: str,
    dimension: int,
    multilingual: dict[str, Any] | None = None,
    vector_options: VectorOptions = DEFAULT_OPTIONS,
) -> HybridIndex:
    """Load the live generation, refusing one built with another model, or without the `multilingual` encoder
    (`{"model": name, "dimension": d}`) when one is configured. Without one, a generation's multilingual vectors
    are left unread."""
    generation = current_generation(root)
    if generation is None:
        raise IndexMissingError(f"no index in {root}: run `kb index` first")
    try:
        meta = json.loads((generation / META).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise IndexMismatchError(f"index metadata in {generation} is unreadable: {exc}") from exc
    if meta.get("model") != model_name or meta.get("dimension") != dimension:
        raise IndexMismatchError(
            f"the index in {root} was built with model {meta.get('model')!r} ({meta.get('dimension')} dims) "
            f"but the configured model is {model_name!r} ({dimension} dims); "
            "rebuild it with `kb index --rebuild`"
        )
    if meta.get("format") != FORMAT_VERSION:
        raise IndexMismatchError(f"the index in {root} has format {meta.get('format')}; rebuild it")
    if multilingual is not None and meta.get("multilingual") != multilingual:
        built = meta.get("multilingual")
        raise IndexMismatchError(
            f"the index in {root} was built "
            + (f"with the multilingual encoder {built.get('model')!r}" if built else "without the multilingual encoder")
            + f" but {multilingual['model']!r} is configured; rebuild it with `kb index --rebuild` "
            "(or set KB_MULTILINGUAL=false to search in English only)"
        )
    try:
        return _load_files(generation, meta, multilingual is not None, vector_options)
    except Exception as exc:  # FAISS, SciPy and JSON each fail their own way on a damaged file
        # The cause (with file paths) is for the log; the message may reach an API client.
        raise IndexDamagedError(
            f"index generation {generation.name} is damaged; rebuild it with `kb index --rebuild`"
        ) from exc


def _load_files(generation: Path, meta: dict[str, Any], multilingual: bool, options: VectorOptions) -> HybridIndex:
    rows = [
        Chunk(**json.loads(line)) for line in (generation / CHUNKS).read_text(encoding="utf-8").splitlines() if line
    ]
    vocabulary_file = generation / VOCABULARY
    vocabulary = (
        json.loads(vocabulary_file.read_text(encoding="utf-8"))
        if vocabulary_file.is_file()
        else word_counts(r.embedding_text for r in rows)  # a generation written before the file existed
    )
    # The constructor checks that vectors, keyword rows and chunks agree: a mismatch is damage too.
    return HybridIndex(
        vectors=FaissVectorIndex.load(generation / VECTORS, options),
        keywords=Bm25KeywordIndex.load(generation / KEYWORDS),
        chunks=rows,
        docs=meta["docs"],
        meta=meta,
        generation=generation.name,
        vocabulary=vocabulary,
        multilingual=FaissVectorIndex.load(generation / MULTILINGUAL_VECTORS, options) if multilingual else None,
        body=BodyVectors.load(generation / BODY_VECTORS, len(rows), int(meta["dimension"])),
    )
