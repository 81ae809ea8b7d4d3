from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from kb.articles import render_html
from kb.articles.model import StoredArticle


class ArticleSummary(BaseModel):
    id: str
    title: str
    team: str | None
    tags: list[str]
    language: str
    updated: str | None
    url: str

    @classmethod
    def of(cls, article: StoredArticle) -> ArticleSummary:
        return cls(
            id=article.id,
            title=article.title,
            team=article.team,
            tags=list(article.tags),
            language=article.language,
            updated=article.updated,
            url=f"/v1/articles/{article.id}",
        )


class ArticleFacets(BaseModel):
    team: dict[str, int] = Field(description="Readable articles per owning team.")
    tag: dict[str, int] = Field(description="Readable articles per tag.")


class ArticlePage(BaseModel):
    items: list[ArticleSummary]
    page: int
    per_page: int
    total: int = Field(description="Articles matching the filters that you may read.")
    facets: ArticleFacets = Field(description="Counts over every article you may read, before the filters.")


class ArticleDetail(BaseModel):
    id: str
    title: str
    team: str | None
    tags: list[str]
    audience: list[str]
    language: str
    status: str
    updated: str | None
    front_matter: dict[str, Any]
    markdown: str
    html: str
    version: int = Field(description="The newest version's number.")
    published_version: int | None = Field(description="The version shown here to employees (null: none yet).")

    @classmethod
    def of(cls, article: StoredArticle) -> ArticleDetail:
        return cls(
            id=article.id,
            title=article.title,
            team=article.team,
            tags=list(article.tags),
            audience=list(article.audience),
            language=article.language,
            status=article.status,
            updated=article.updated,
            front_matter=article.front_matter,
            markdown=article.body,
            html=render_html(article.body),
            version=article.version,
            published_version=article.published_version,
        )


class FeedbackCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    helpful: bool
    query: str | None = Field(None, max_length=1000, description="The search that led to the article.")
    comment: str | None = Field(
        None, max_length=2000, description="What was missing or wrong (read by the article's team)."
    )
