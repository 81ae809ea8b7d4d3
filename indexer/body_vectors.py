"""A second English vector for chunks whose title other documents share: the chunk's own text, without the title.

Every chunk is embedded with its title in front (`Chunk.embedding_text`): the title carries most of a section's
topic. Where several documents share one title (the sections of one help page, each its own document; the answers
of one FAQ thread) that shared title makes their vectors alike, and the question that one section answers ranks
its siblings as high as it. Their own texts tell them apart: on doc2dial (help pages cut into sections) adding the
cosine to the text alone lifted nDCG@10 from 0.680 to 0.710. A chunk whose title no other document shares has no
sibling to be told from: its one vector stands for its text too, and costs nothing more.

Which documents share a title is decided within a `scope` (kb passes the article's audience), so that a
restricted document never changes how a document of another audience is read.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np
import numpy.typing as npt

from indexer.chunking import Chunk
from indexer.embedders import Vectors

Rows = npt.NDArray[np.int64]
Scores = npt.NDArray[np.float32]


class TitledDocument(Protocol):
    @property
    def doc_id(self) -> str: ...

    @property
    def title(self) -> str: ...

    @property
    def scope(self) -> str: ...


def body_text(chunk: Chunk) -> str:
    """What a chunk's text-alone vector reads: its body (the section heading belongs to the section, not the page),
    or its title when it has nothing else."""
    return chunk.body or chunk.title


def sharing_title(documents: Sequence[TitledDocument]) -> set[str]:
    """The ids of the documents whose title (case and spacing aside) another document of the same scope has too."""

    def key(doc: TitledDocument) -> tuple[str, str]:
        return " ".join(doc.title.casefold().split()), doc.scope

    counts = Counter(key(doc) for doc in documents)
    # Untitled documents share nothing: their chunks are their text already.
    return {doc.doc_id for doc in documents if counts[key(doc)] > 1 and doc.title.strip()}


class BodyVectors:
    """The text-alone vectors of some rows of a generation, and where each row's is (-1: the row has none)."""

    def __init__(self, rows: Rows, vectors: Vectors, size: int, dimension: int) -> None:
        if (
            vectors.ndim != 2
            or vectors.shape[1] != dimension
            or len(rows) != len(vectors)
            or (len(rows) and (rows.min() < 0 or rows.max() >= size))
        ):
            raise ValueError(
                f"body vectors {vectors.shape} for {len(rows)} of {size} rows ({dimension} dims) do not match"
            )
        self.rows = rows.astype(np.int64)
        self.vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        self._position = np.full(size, -1, dtype=np.int64)
        self._position[self.rows] = np.arange(len(self.rows), dtype=np.int64)

    @classmethod
    def empty(cls, size: int, dimension: int) -> BodyVectors:
        return cls(np.zeros(0, np.int64), np.zeros((0, dimension), np.float32), size, dimension)

    def of(self, row: int) -> Vectors | None:
        """`row`'s text-alone vector, or None when it has none."""
        position = int(self._position[row])
        return None if position < 0 else self.vectors[position]

    def scores(self, rows: Rows, vector: Vectors, dense: Scores) -> Scores:
        """The cosine of each of `rows` to `vector` read by its text alone; `dense` (its titled cosine) for a row
        that has no text-alone vector."""
        scores = dense.astype(np.float32, copy=True)
        positions = self._position[rows]
        has = positions >= 0
        if has.any():
            scores[has] = self.vectors[positions[has]] @ vector
        return scores

    def save(self, folder: Path) -> None:
        folder.mkdir()
        np.save(folder / "rows.npy", self.rows)
        np.save(folder / "vectors.npy", self.vectors)

    @classmethod
    def load(cls, folder: Path, size: int, dimension: int) -> BodyVectors:
        return cls(np.load(folder / "rows.npy"), np.load(folder / "vectors.npy"), size, dimension)
