from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class ArticleSummary(BaseModel):
    id: str
    title: str
    team: str | None
    tags: list[str]
    language: str
    updated: str | None
    url: str


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


class FeedbackCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    helpful: bool
    query: str | None = Field(None, max_length=1000, description="The search that led to the article.")
