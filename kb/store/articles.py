"""The articles table: a mirror of the indexed articles, read for listing and for deciding who may read what."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from kb.articles import Article
from kb.articles.model import StoredArticle
from kb.store import schema


class ArticleRepository:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def sync(self, articles: Sequence[Article]) -> None:
        """Make the table mirror `articles` exactly, in one transaction."""
        now = datetime.now(UTC)
        table = schema.articles
        with self._engine.begin() as conn:
            conn.execute(sa.delete(table))
            if articles:
                conn.execute(
                    sa.insert(table),
                    [
                        {
                            "id": a.id,
                            "title": a.title,
                            "team": a.team,
                            "tags": list(a.tags),
                            "audience": list(a.audience),
                            "language": a.language,
                            "status": a.status,
                            "updated": a.updated,
                            "source": a.source,
                            "body": a.body,
                            "front_matter": a.front_matter,
                            "content_hash": a.content_hash,
                            "synced_at": now,
                        }
                        for a in articles
                    ],
                )

    def get(self, article_id: str) -> StoredArticle | None:
        with self._engine.connect() as conn:
            row = conn.execute(sa.select(schema.articles).where(schema.articles.c.id == article_id)).first()
        return _article(row) if row else None

    def audiences(self, ids: Collection[str] | None = None) -> dict[str, list[str]]:
        """Stored articles' audiences by id: every article's, or those of `ids` that exist."""
        table = schema.articles
        query = sa.select(table.c.id, table.c.audience)
        if ids is not None:
            query = query.where(table.c.id.in_(list(ids)))
        with self._engine.connect() as conn:
            return {row.id: list(row.audience or []) for row in conn.execute(query)}

    def published(self) -> list[StoredArticle]:
        """Every published article, by title. Readability is decided by the caller (kb.access), so the list
        is filtered before it is paged, counted or faceted."""
        table = schema.articles
        with self._engine.connect() as conn:
            query = sa.select(table).where(table.c.status == "published").order_by(table.c.title, table.c.id)
            rows = conn.execute(query).all()
        return [_article(r) for r in rows]


def _article(row: sa.Row[Any]) -> StoredArticle:
    values = row._mapping
    return StoredArticle(
        id=values["id"],
        title=values["title"],
        team=values["team"],
        tags=tuple(values["tags"] or ()),
        audience=tuple(values["audience"] or ()),
        language=values["language"],
        status=values["status"],
        updated=values["updated"],
        source=values["source"],
        body=values["body"],
        front_matter=dict(values["front_matter"] or {}),
        content_hash=values["content_hash"],
        synced_at=values["synced_at"],
    )
