"""Embedders turn texts into unit-length vectors so that inner product is cosine similarity."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

Vectors = npt.NDArray[np.float32]
ProgressCallback = Callable[[int], None]


class Embedder(Protocol):
    """What the index needs from a text encoder."""

    @property
    def name(self) -> str:
        """Identifies the model; an index built with another name is refused."""
        ...

    @property
    def dimension(self) -> int: ...

    def encode(self, texts: Sequence[str], progress: ProgressCallback | None = None) -> Vectors:
        """Return one normalised float32 row per text; `progress` receives the count done after each batch."""
        ...


def encoder_identity(encoder: Embedder | None) -> dict[str, Any] | None:
    """What an index records of its second encoder, so a reader can refuse vectors another one made."""
    return None if encoder is None else {"model": encoder.name, "dimension": encoder.dimension}
