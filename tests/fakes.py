"""Deterministic stand-ins for the tests where ranking does not matter."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np

from indexer.embedders import Embedder, ProgressCallback, Vectors


class HashingEmbedder:
    """Each word hashes to a fixed random direction; a text is the normalised sum of its words' directions.

    Deterministic and instant, and texts that share words still score closer than texts that do not, so
    searches, routing and index builds behave without loading a model."""

    name = "hashing-test-embedder"
    dimension = 32

    def encode(self, texts: Sequence[str], progress: ProgressCallback | None = None) -> Vectors:
        vectors = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for i, text in enumerate(texts):
            for word in text.lower().split() or [""]:
                seed = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=8).digest(), "little")
                vectors[i] += np.random.default_rng(seed).standard_normal(self.dimension).astype(np.float32)
            vectors[i] /= np.linalg.norm(vectors[i]) or 1.0
        if progress is not None:
            progress(len(texts))
        return vectors


class Wrapped:
    """An encoder that is `inner` under its name and dimension: the base of test wrappers that watch or hold it."""

    def __init__(self, inner: Embedder) -> None:
        self._inner = inner

    @property
    def name(self) -> str:
        return self._inner.name

    @property
    def dimension(self) -> int:
        return self._inner.dimension

    def encode(self, texts: Sequence[str], progress: ProgressCallback | None = None) -> Vectors:
        return self._inner.encode(texts, progress)


class Counting(Wrapped):
    """Wraps an encoder and records every text it is asked to encode."""

    def __init__(self, inner: Embedder) -> None:
        super().__init__(inner)
        self.encoded: list[str] = []

    def encode(self, texts: Sequence[str], progress: ProgressCallback | None = None) -> Vectors:
        self.encoded.extend(texts)
        return super().encode(texts, progress)
