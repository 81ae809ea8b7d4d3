"""The on-disk layout of an index root, shared by the writer (indexer.build) and the reader (indexer.load).

Layout of the index root:
    CURRENT            name of the live generation folder, replaced atomically (os.replace)
    gen-<stamp>/       vectors.faiss, multilingual.faiss (the second encoder's, when one is used), chunks.jsonl
                       (row -> chunk), keyword/ (BM25 term frequencies, each chunk analysed in its language),
                       vocabulary.json (word counts of the English chunks, for query spelling),
                       body/ (the text-alone vectors of chunks whose title other documents share:
                       indexer.body_vectors),
                       meta.json (with the calibration)
    .build.lock        the build lock: one build at a time per index root (an OS lock, so a killed builder's
                       lock goes with it)
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

# 2: raw term frequencies instead of bm25s scores; 3: keyword terms in each chunk's language; 4: text-alone vectors
FORMAT_VERSION = 4
POINTER = "CURRENT"
VECTORS = "vectors.faiss"
MULTILINGUAL_VECTORS = "multilingual.faiss"
BODY_VECTORS = "body"
CHUNKS = "chunks.jsonl"
KEYWORDS = "keyword"
VOCABULARY = "vocabulary.json"
META = "meta.json"
LOCK = ".build.lock"


def current_generation(root: Path) -> Path | None:
    pointer = root / POINTER
    if not pointer.is_file():
        return None
    name = pointer.read_text(encoding="utf-8").strip()
    folder = root / name
    return folder if name and folder.is_dir() else None


def read_meta(root: Path) -> dict[str, Any] | None:
    generation = current_generation(root)
    if generation is None:
        return None
    meta: dict[str, Any] = json.loads((generation / META).read_text(encoding="utf-8"))
    return meta
