"""A page of articles with facet counts, computed only over what the reader may read."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from kb.articles.model import StoredArticle


@dataclass(frozen=True)
class ArticlePage:
    items: list[StoredArticle]
    total: int
    facets: dict[str, dict[str, int]]  # facet -> value -> readable articles with it


def facets(readable: Iterable[StoredArticle]) -> dict[str, dict[str, int]]:
    """Counts by team and by tag. The caller passes readable articles only: a count that included hidden
    articles would reveal that they exist."""
    teams: Counter[str] = Counter()
    tags: Counter[str] = Counter()
    for article in readable:
        if article.team:
            teams[article.team] += 1
        tags.update(set(article.tags))
    return {"team": dict(sorted(teams.items())), "tag": dict(sorted(tags.items()))}
