"""Measuring a KB's `Calibration` on its own index, at index time (stored with the generation)."""

from __future__ import annotations

import random
import statistics
from dataclasses import asdict
from typing import Any

import numpy as np

from indexer.build import LoadedIndex
from indexer.embedders import Embedder
from indexer.vector_index import RowFilter
from kb.search.confidence import CALIBRATION_VERSION, Calibration

# Enough titles for a stable median (its standard error is a few thousandths), few enough to stay a small
# share of indexing time on a large KB.
MAX_TITLES = 300
MIN_TITLE_WORDS = 3


class TitleCalibrator:
    """Searches a sample of the KB's titles against its own index (see `Calibration`)."""

    version = CALIBRATION_VERSION

    def __init__(self, embedder: Embedder) -> None:
        self._embedder = embedder

    def measure(self, index: LoadedIndex) -> Calibration:
        # Only articles meant for everyone take part: the scale shapes every reader's confidence, so a restricted
        # article must not move it (nor any score an outsider sees).
        public = np.array([not index.docs[row.doc_id].get("audience") for row in index.rows], dtype=bool)
        # Only titles that describe their article: one or two words (a command name, an id, "Lockers") say what
        # the article is called, not what it says, and score low against any text.
        titles = sorted(
            {
                row.title.strip()
                for row, readable in zip(index.rows, public, strict=True)
                if readable and len(row.title.split()) >= MIN_TITLE_WORDS
            }
        )
        if len(titles) > MAX_TITLES:
            titles = random.Random(0).sample(titles, MAX_TITLES)  # seeded: the same KB gives the same figure
        if not titles:
            return Calibration()
        allowed = None if public.all() else RowFilter(public)
        vectors = self._embedder.encode(titles)
        best = [float(index.vectors.search(vector, 1, allowed)[0][0]) for vector in vectors]
        return Calibration(round(statistics.median(best), 4), len(titles))

    def __call__(self, index: LoadedIndex) -> dict[str, Any]:
        return asdict(self.measure(index))
