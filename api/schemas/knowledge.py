"""The articles needing attention, knowledge gaps and per-article statistics."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from kb.articles.insights import ArticleStats, Attention


class AttentionArticle(BaseModel):
    article_id: str
    title: str
    reasons: list[str] = Field(
        description="not_helpful (readers' votes), stale (not updated for KB_STALE_DAYS), listed_by_tickets (tickets "
        "say it did not help their requester)."
    )
    helpful: int
    not_helpful: int
    score: float = Field(description="Smoothed helpful share, 0 to 1 (0.5 without votes).")
    updated: str | None
    tickets_listing: int


class GapOut(BaseModel):
    example: str
    searches: int
    distinct: int
    terms: list[str]
    queries: list[str] = Field(description="The unanswered searches it stands for (up to 20).")
    write: dict[str, str] = Field(description="The request that opens a draft prefilled from this gap.")


class AttentionOut(BaseModel):
    team: str
    articles: list[AttentionArticle]
    gaps: list[GapOut] = Field(description="Unanswered searches of the last 30 days routed to the team, clustered.")

    @classmethod
    def of(cls, found: Attention) -> AttentionOut:
        return cls(
            team=found.team,
            articles=[
                AttentionArticle(
                    article_id=a.article_id,
                    title=a.title,
                    reasons=list(a.reasons),
                    helpful=a.helpful,
                    not_helpful=a.not_helpful,
                    score=a.score,
                    updated=a.updated,
                    tickets_listing=a.tickets_listing,
                )
                for a in found.articles
            ],
            gaps=[
                GapOut(
                    example=g.example,
                    searches=g.searches,
                    distinct=g.distinct,
                    terms=list(g.terms),
                    queries=list(g.queries),
                    write={"method": "POST", "url": "/v1/knowledge/gaps/draft"},
                )
                for g in found.gaps
            ],
        )


class GapDraftIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    team: str = Field(max_length=100)
    example: str = Field(min_length=1, max_length=1000, description="The gap's example query, as listed.")


class CommentOut(BaseModel):
    user: str
    helpful: bool
    comment: str
    at: datetime


class ArticleStatsOut(BaseModel):
    article_id: str
    views: int
    viewers: int
    helpful: int
    not_helpful: int
    score: float = Field(description="Smoothed helpful share, 0 to 1 (0.5 without votes); it nudges ranking by ±5 %.")
    views_from_search: int = Field(description="Views that came from a search, at least 24 hours old.")
    deflected: int = Field(description="Of those, views not followed by a ticket from the reader within 24 hours.")
    deflection: float | None
    comments: list[CommentOut]

    @classmethod
    def of(cls, stats: ArticleStats) -> ArticleStatsOut:
        return cls(
            article_id=stats.article_id,
            views=stats.views,
            viewers=stats.viewers,
            helpful=stats.helpful,
            not_helpful=stats.not_helpful,
            score=stats.score,
            views_from_search=stats.views_from_search,
            deflected=stats.deflected,
            deflection=stats.deflection,
            comments=[CommentOut(user=u, helpful=h, comment=c, at=at) for u, h, c, at in stats.comments],
        )
