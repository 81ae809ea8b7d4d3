"""The on-disk layout of an index root, shared by the writer (indexer.build) and the reader (indexer.load).

Layout of the index root:
    CURRENT            name of the live generation folder, replaced atomically (os.replace)
    gen-<stamp>/       vectors.faiss, chunks.jsonl (row -> chunk), keyword/ (BM25 term frequencies),
                       vocabulary.json (word counts, for query spelling), meta.json (with the calibration)
    .build.lock        the build lock: one build at a time per index root (an OS lock, so a killed builder's
                       lock goes with it)
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

FORMAT_VERSION = 2  # 2: raw term frequencies instead of bm25s scores
POINTER = "CURRENT"
VECTORS = "vectors.faiss"
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
