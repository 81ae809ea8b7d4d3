"""How helpful readers found an article, as a smoothed score that nudges ranking.

The score is the mean of a Beta prior and the votes: (helpful + PRIOR_VOTES / 2) / (votes + PRIOR_VOTES). With no
votes it is 0.5; ten votes move it only half way to their own ratio, so a handful can neither bury nor lift an
article, and each user has one vote per article (a new vote replaces the old), so one user cannot stuff the box.
Ranking multiplies an article's fused score by 1 + WEIGHT * (2 * score - 1): at most ±5 %, enough to order near
ties by what helped people, never enough to put a weak match above a strong one."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping

PRIOR_VOTES = 10
WEIGHT = 0.05
REFRESH_SECONDS = 30.0


def helpful_score(helpful: int, not_helpful: int) -> float:
    """The smoothed share of helpful votes, 0 to 1 (0.5 without votes)."""
    return (helpful + PRIOR_VOTES / 2) / (helpful + not_helpful + PRIOR_VOTES)


def ranking_boost(helpful: int, not_helpful: int) -> float:
    """The factor an article's fused score is multiplied by: 0.95 to 1.05, 1 without votes."""
    return 1.0 + WEIGHT * (2 * helpful_score(helpful, not_helpful) - 1)


class RankingBoosts:
    """Each voted article's boost, read from the store at most every REFRESH_SECONDS (a search never waits on more
    than one query for it, and a vote shows in ranking within that time)."""

    def __init__(self, vote_counts: Callable[[], Mapping[str, tuple[int, int]]]) -> None:
        self._vote_counts = vote_counts
        self._boosts: dict[str, float] = {}
        self._read_at = float("-inf")
        self._lock = threading.Lock()

    def __call__(self) -> Mapping[str, float]:
        with self._lock:
            if time.monotonic() - self._read_at >= REFRESH_SECONDS:
                counts = self._vote_counts()
                self._boosts = {doc: ranking_boost(*votes) for doc, votes in counts.items()}
                self._read_at = time.monotonic()
            return self._boosts

    def expire(self) -> None:
        """Read the votes again on the next search (after a vote in this process)."""
        with self._lock:
            self._read_at = float("-inf")
