from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class ArticleSummary(BaseModel):
    id: str
    title: str
    team: str | None
    tags: list[str]
    language: str
    updated: str | None
    url: str


class ArticlePage(BaseModel):
    items: list[ArticleSummary]
    page: int
    per_page: int
    total: int


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
