"""What the service metrics return: one frozen dataclass per metric, and `ServiceMetrics` holding them all.

The API's schemas (api/schemas/metrics.py) and `kb report` read these; their fields are the README's definitions.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class Durations:
    """Business hours per ticket, summarised: how many tickets, their median and their mean (None without any)."""

    count: int
    median_hours: float | None
    mean_hours: float | None


@dataclass(frozen=True)
class SlaAttainment:
    """Of `count` tickets resolved in the window, how many met the first-response and the resolution target."""

    count: int
    first_response_met: int
    resolution_met: int
    first_response_met_share: float | None
    resolution_met_share: float | None


@dataclass(frozen=True)
class Backlog:
    """Active tickets (new, open, pending) at `at`, by state and by calendar age (time since created)."""

    at: datetime
    total: int
    by_state: dict[str, int]
    by_age: dict[str, int]


@dataclass(frozen=True)
class BusiestHours:
    """Tickets created in the window by local weekday (rows, Monday first) and hour (columns 0-23)."""

    timezone: str
    weekdays: list[str]
    counts: list[list[int]]
    total: int


@dataclass(frozen=True)
class Csat:
    """Ticket ratings (1-5) given in the window."""

    count: int
    average: float | None
    satisfied: int  # rated 4 or 5
    satisfied_share: float | None


@dataclass(frozen=True)
class Nps:
    """Net promoter score of the answers given in the window: % promoters (9-10) - % detractors (0-6)."""

    count: int
    promoters: int
    passives: int
    detractors: int
    score: float | None  # -100..100


@dataclass(frozen=True)
class Searches:
    """Searches in the window, how many were answered, and how many answered ones deflected a ticket."""

    count: int
    answered: int
    answered_share: float | None
    deflection_base: int  # answered searches by a known user
    deflected: int  # of those, followed by no ticket from the same user within 24 h
    deflection_share: float | None


@dataclass(frozen=True)
class ArticleStat:
    article_id: str
    title: str
    team: str | None
    views: int
    helpful: int
    not_helpful: int


@dataclass(frozen=True)
class TopArticles:
    """The 10 most viewed and the 10 most often voted helpful articles; totals over every counted article.
    Only published articles the reader may read are counted at all."""

    by_views: list[ArticleStat]
    by_helpful: list[ArticleStat]
    total_views: int
    total_helpful: int
    total_not_helpful: int


@dataclass(frozen=True)
class KnowledgeGap:
    """A cluster of unanswered queries: how many searches, how many distinct texts, one example, its terms."""

    count: int
    distinct_queries: int
    example: str
    terms: list[str]


@dataclass(frozen=True)
class ServiceMetrics:
    start: datetime
    end: datetime
    teams: list[str] | None  # the teams in scope; None: every team (an admin without a team filter)
    generated_at: datetime
    tickets_created: int
    tickets_resolved: int
    first_response: Durations
    handle_time: Durations
    sla: dict[str, SlaAttainment]  # per priority, and "all"
    backlog: Backlog
    busiest_hours: BusiestHours
    csat: Csat
    nps: Nps
    searches: Searches
    top_articles: TopArticles
    knowledge_gaps: list[KnowledgeGap] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types: datetimes become ISO 8601 strings (UTC)."""
        return _jsonable(asdict(self))  # type: ignore[no-any-return]


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def share(part: int, whole: int) -> float | None:
    """`part` as a share (0-1) of `whole`; None rather than a made-up 0 when there is nothing to divide."""
    return part / whole if whole else None
