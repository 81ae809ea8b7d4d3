"""The articles a generated history refers to (searches' top hits, views and votes)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from kb.articles import load_articles
from kb.store import Store


@dataclass(frozen=True)
class DemoArticle:
    id: str
    title: str
    team: str | None
    audience: tuple[str, ...] = ()


def demo_articles(store: Store, articles_dir: Path) -> list[DemoArticle]:
    """The published articles of the store (when the KB is indexed), else those of the articles folder."""
    stored = store.articles.published()
    if stored:
        return [DemoArticle(a.id, a.title, a.team, a.audience) for a in stored]
    if not articles_dir.is_dir():
        return []
    return [
        DemoArticle(a.id, a.title, a.team, a.audience) for a in load_articles(articles_dir).articles if a.searchable
    ]
