"""What a team needs to keep its articles useful: the articles needing attention, the knowledge gaps to write
up, and each article's views, votes and measured deflection."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from indexer.analysis import analyze
from kb.access import Principal, can_view_metrics, can_write_article
from kb.articles.helpfulness import helpful_score
from kb.articles.model import StoredArticle
from kb.errors import Forbidden, NotFound
from kb.metrics.gaps import knowledge_gaps
from kb.publishing.service import Saved
from kb.store.articles import ArticleRepository
from kb.store.search_log import SearchLogRepository
from kb.store.surveys import SurveyRepository
from kb.store.tickets import TicketRepository

# An article is flagged for votes when at least this many readers said it did not help and its smoothed score
# (kb.articles.helpfulness) is below NOT_HELPFUL_SCORE, for tickets when this many tickets list it as unhelpful.
MIN_NOT_HELPFUL = 3
NOT_HELPFUL_SCORE = 0.4
MIN_TICKET_LISTINGS = 2
GAP_WINDOW = timedelta(days=30)
DEFLECTION_WINDOW = timedelta(hours=24)
MAX_COMMENTS = 20


@dataclass(frozen=True)
class AttentionItem:
    article_id: str
    title: str
    team: str | None
    reasons: tuple[str, ...]  # not_helpful, stale, listed_by_tickets
    helpful: int
    not_helpful: int
    score: float
    updated: str | None
    tickets_listing: int


@dataclass(frozen=True)
class GapItem:
    """Unanswered searches routed to the team, with the draft that would answer them."""

    example: str
    searches: int
    distinct: int
    terms: tuple[str, ...]
    queries: tuple[str, ...]


@dataclass(frozen=True)
class Attention:
    team: str
    articles: list[AttentionItem]
    gaps: list[GapItem]


@dataclass(frozen=True)
class ArticleStats:
    article_id: str
    views: int
    viewers: int
    helpful: int
    not_helpful: int
    score: float
    views_from_search: int
    deflected: int
    deflection: float | None  # share of searched-for views not followed by a ticket from that reader within 24 h
    comments: list[tuple[str, bool, str, datetime]] = field(default_factory=list)  # user, helpful, text, when


class ArticleInsights:
    def __init__(
        self,
        articles: ArticleRepository,
        surveys: SurveyRepository,
        tickets: TicketRepository,
        search_log: SearchLogRepository,
        route: Callable[[str], str],
        draft: Callable[[str, Principal, str], Saved],
        *,
        stale_days: int,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._articles = articles
        self._surveys = surveys
        self._tickets = tickets
        self._search_log = search_log
        self._route = route
        self._draft = draft
        self._stale_days = stale_days
        self._clock = clock

    def attention(self, team: str, reader: Principal) -> Attention:
        """The team's published articles that readers, tickets or time say need work, and its knowledge gaps."""
        if not can_view_metrics(reader, team):
            raise Forbidden(f"the articles needing attention are for the agents of {team!r}", field="team")
        now = self._clock()
        votes = self._surveys.vote_counts()
        listed = self._tickets.not_helpful_listings()
        items = []
        for article in self._articles.published():
            if (article.team or "").lower() != team.lower():
                continue
            helpful, not_helpful = votes.get(article.id, (0, 0))
            score = helpful_score(helpful, not_helpful)
            reasons = []
            if not_helpful >= MIN_NOT_HELPFUL and score < NOT_HELPFUL_SCORE:
                reasons.append("not_helpful")
            if self._stale(article, now):
                reasons.append("stale")
            if listed.get(article.id, 0) >= MIN_TICKET_LISTINGS:
                reasons.append("listed_by_tickets")
            if reasons:
                items.append(
                    AttentionItem(
                        article.id,
                        article.title,
                        article.team,
                        tuple(reasons),
                        helpful,
                        not_helpful,
                        round(score, 3),
                        article.updated,
                        listed.get(article.id, 0),
                    )
                )
        items.sort(key=lambda item: (-len(item.reasons), item.score, item.article_id))
        return Attention(team, items, self._gaps(team, now))

    def stats(self, article_id: str, reader: Principal) -> ArticleStats:
        """Views, votes (with their comments) and deflection of an article, for those who write it."""
        article = self._articles.get(article_id)
        if article is None or not can_write_article(reader, article.team):
            raise NotFound(f"no article {article_id!r} of your teams", field="article_id")
        feedback = self._surveys.of_article(article.id)
        views = [f for f in feedback if f.kind == "view"]
        votes = {f.user: f for f in feedback if f.kind != "view"}  # the latest vote per user
        helpful = sum(f.kind == "helpful" for f in votes.values())
        not_helpful = len(votes) - helpful
        # Deflection: a view that came from a search, by a reader who filed no ticket within 24 hours after it.
        # Views younger than 24 hours are not judged yet.
        now = self._clock()
        searched = [v for v in views if v.query and v.at <= now - DEFLECTION_WINDOW]
        filed = self._tickets.filed_by({v.user for v in searched}, min((v.at for v in searched), default=now))
        deflected = sum(
            not any(v.at <= at <= v.at + DEFLECTION_WINDOW for at in filed.get(v.user, [])) for v in searched
        )
        comments = [(f.user, f.kind == "helpful", f.comment, f.at) for f in votes.values() if f.comment]
        comments.sort(key=lambda c: c[3], reverse=True)
        return ArticleStats(
            article.id,
            len(views),
            len({v.user for v in views}),
            helpful,
            not_helpful,
            round(helpful_score(helpful, not_helpful), 3),
            len(searched),
            deflected,
            round(deflected / len(searched), 3) if searched else None,
            comments[:MAX_COMMENTS],
        )

    def draft_from_gap(self, team: str, example: str, reader: Principal) -> Saved:
        """ "Write an article": a draft owned by `team`, prefilled from its current knowledge gap whose example
        query is `example`."""
        if not can_view_metrics(reader, team):
            raise Forbidden(f"the knowledge gaps of {team!r} are for its agents", field="team")
        for gap in self._gaps(team, self._clock()):
            if gap.example.lower() == example.strip().lower():
                # The searches themselves go to the first version's comment, which only the team's writers read:
                # the article's text, published to everyone, names the topic, not what colleagues typed.
                searched = "; ".join(f"“{query}”" for query in gap.queries or (gap.example,))
                return self._draft(gap_draft(gap, team), reader, f"drafted from a knowledge gap: {searched}")
        raise NotFound(f"no current knowledge gap of {team!r} with the example {example!r}", field="example")

    def _stale(self, article: StoredArticle, now: datetime) -> bool:
        """Not updated for KB_STALE_DAYS: the front matter's `updated` date, else when the store last changed it."""
        when: datetime = article.synced_at
        if article.updated:
            try:
                day = dt.date.fromisoformat(article.updated[:10])
            except ValueError:
                pass
            else:
                when = datetime(day.year, day.month, day.day, tzinfo=UTC)
        return now - when > timedelta(days=self._stale_days)

    def _gaps(self, team: str, now: datetime) -> list[GapItem]:
        queries = self._search_log.unanswered_since(now - GAP_WINDOW)
        gaps = []
        for gap in knowledge_gaps(queries):
            if self._route(gap.example).lower() != team.lower():
                continue
            # The searches it stands for: those sharing at least half of its top terms.
            terms = set(gap.terms)
            members = sorted({q for q in queries if len(set(analyze(q)) & terms) * 2 >= len(terms)}, key=str.lower)
            gaps.append(GapItem(gap.example, gap.count, gap.distinct_queries, tuple(gap.terms), tuple(members[:20])))
        return gaps


def gap_draft(gap: GapItem, team: str) -> str:
    """A draft article prefilled from a knowledge gap, to be written up by the team: titled by the gap's most
    frequent search, its topic in the terms the searches share."""
    title = gap.example.strip().rstrip("?").capitalize() or "Untitled"
    terms = ", ".join(gap.terms)
    return (
        f"---\ntitle: {_yaml_string(title)}\nteam: {_yaml_string(team)}\ntags: [knowledge-gap]\n---\n\n"
        f"## Symptoms\n\n_To be written: what employees see. {gap.searches} searches found no answer about: "
        f"{terms}._\n\n"
        "## Cause\n\n_To be written: how the problem occurs._\n\n"
        "## Resolution\n\n_To be written: the steps that fix it._\n"
    )


def _yaml_string(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)  # JSON strings are YAML strings: quotes and colons are safe
