"""The body of `GET /v1/sync`."""

from __future__ import annotations

from pydantic import BaseModel, Field

from kb.sync import SyncPage


class SyncedArticleOut(BaseModel):
    id: str
    title: str
    team: str | None
    tags: list[str]
    audience: list[str]
    language: str
    updated: str | None
    version: int = Field(description="The published version's number.")
    etag: str
    markdown: str = Field(description="The published version's whole text (front matter and sections).")


class SyncOut(BaseModel):
    articles: list[SyncedArticleOut] = Field(description="New and updated articles you may read.")
    tombstones: list[str] = Field(description="Ids to drop: archived, deleted, or no longer yours to read.")
    cursor: str = Field(description="Send it back as `since` for the next page or the next sync.")
    has_more: bool = Field(description="More changes wait: ask again with `since=cursor` at once.")

    @classmethod
    def of(cls, page: SyncPage) -> SyncOut:
        return cls(
            articles=[SyncedArticleOut(**a.record()) for a in page.articles],
            tombstones=page.tombstones,
            cursor=page.cursor,
            has_more=page.has_more,
        )
