"""GET /v1/metrics/service: the service metrics, as kb.metrics computes them (definitions in the README)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from kb.teams import PRIORITIES
from kb.tickets.states import ACTIVE


class DurationsOut(BaseModel):
    count: int = Field(description="Tickets measured.")
    median_hours: float | None = Field(description="Median, in the owning team's business hours; null: none.")
    mean_hours: float | None = Field(description="Mean, in the owning team's business hours; null: none.")


class SlaAttainmentOut(BaseModel):
    count: int = Field(description="Tickets of this priority resolved in the window.")
    first_response_met: int
    resolution_met: int
    first_response_met_share: float | None = Field(description="0-1; null when `count` is 0.")
    resolution_met_share: float | None = Field(description="0-1; null when `count` is 0.")


class BacklogOut(BaseModel):
    at: datetime = Field(description="The moment the backlog is taken: `to`, or now when `to` is in the future.")
    total: int
    by_state: dict[str, int] = Field(description=f"{', '.join(ACTIVE)}.")
    by_age: dict[str, int] = Field(description="Calendar age since creation: <1 day, 1-3 days, 3-7 days, >7 days.")


class BusiestHoursOut(BaseModel):
    timezone: str = Field(description="The team's timezone, or `each team's` when several teams are in scope.")
    weekdays: list[str] = Field(description="Row labels, Monday first.")
    counts: list[list[int]] = Field(description="7 rows (weekdays) of 24 counts (local hours 0-23).")
    total: int


class CsatOut(BaseModel):
    count: int
    average: float | None = Field(description="Mean rating, 1-5; null without ratings.")
    satisfied: int = Field(description="Ratings of 4 or 5.")
    satisfied_share: float | None


class NpsScoreOut(BaseModel):
    """The net promoter score of the answers given in the window (not one answer: see POST /v1/surveys/nps)."""

    count: int
    promoters: int = Field(description="Scores 9-10.")
    passives: int = Field(description="Scores 7-8.")
    detractors: int = Field(description="Scores 0-6.")
    score: float | None = Field(description="% promoters - % detractors, -100..100; null without answers.")


class SearchesOut(BaseModel):
    count: int
    answered: int
    answered_share: float | None
    deflection_base: int = Field(description="Answered searches by a known user.")
    deflected: int = Field(description="Of those, followed by no ticket from that user within 24 hours.")
    deflection_share: float | None


class ArticleStatOut(BaseModel):
    article_id: str
    title: str
    team: str | None
    views: int
    helpful: int
    not_helpful: int


class TopArticlesOut(BaseModel):
    by_views: list[ArticleStatOut]
    by_helpful: list[ArticleStatOut]
    total_views: int = Field(description="Over the articles you may read only.")
    total_helpful: int
    total_not_helpful: int


class KnowledgeGapOut(BaseModel):
    count: int = Field(description="Unanswered searches in the cluster.")
    distinct_queries: int
    example: str = Field(description="The cluster's most frequent query text.")
    terms: list[str] = Field(description="Its most common (stemmed) terms.")


class ServiceMetricsOut(BaseModel):
    start: datetime = Field(description="`from`, inclusive (UTC).")
    end: datetime = Field(description="`to`, exclusive (UTC).")
    teams: list[str] | None = Field(description="The teams in scope; null: every team.")
    generated_at: datetime
    tickets_created: int
    tickets_resolved: int
    first_response: DurationsOut
    handle_time: DurationsOut
    sla: dict[str, SlaAttainmentOut] = Field(description=f"Per priority ({', '.join(PRIORITIES)}) and `all`.")
    backlog: BacklogOut
    busiest_hours: BusiestHoursOut
    csat: CsatOut
    nps: NpsScoreOut
    searches: SearchesOut
    top_articles: TopArticlesOut
    knowledge_gaps: list[KnowledgeGapOut]
