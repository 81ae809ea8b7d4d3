"""Self-service metrics over a window: how many searches were answered, how many answers deflected a ticket, and
which articles are read and found helpful. Pure functions over the rows kb.store.metrics reads; what an article
count may show is decided by kb.access."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from kb.access import EVERYONE, Principal, can_read_article
from kb.metrics.results import ArticleStat, Searches, TopArticles, share
from kb.metrics.scope import TeamTest
from kb.store.metrics import CatalogueEntry, LoggedSearch

DEFLECTION_HOURS = 24
TOP_ARTICLES = 10


def search_in_scope(
    search: LoggedSearch, catalogue: dict[str, CatalogueEntry], in_scope: TeamTest, scope: list[str] | None
) -> bool:
    """Every search for an admin without a team filter; otherwise a search belongs to the team that owns its top
    result meant for everyone, and a search without one belongs to no team. A restricted result must not
    decide: its team's agents would see, through the query, what only its audience may read."""
    if scope is None:
        return True
    for article_id in search.top_ids:
        article = catalogue.get(article_id)
        if article is not None and not article.audience:
            return in_scope(article.team)
    return False


def _known_user(user: str | None) -> str | None:
    """The searcher's name; None for a search without a user or by the anonymous reader (nobody to follow)."""
    return user if user and user != EVERYONE.name else None


def search_stats(searches: list[LoggedSearch], requests: Iterable[tuple[str, datetime]]) -> Searches:
    """Searches in the window, the share answered, and deflection: of the answered searches by a known user, the
    share after which that user opened no ticket (any team) within 24 hours (created at or after the search and
    before 24 h later). Searches without a user (or by "anonymous") take no part in deflection."""
    opened: dict[str, list[datetime]] = {}
    for requester, created_at in requests:
        opened.setdefault(requester, []).append(created_at)
    for times in opened.values():
        times.sort()
    answered = [s for s in searches if s.answered]
    base = [(s.created_at, user) for s in answered if (user := _known_user(s.user)) is not None]
    deflected = 0
    for at, user in base:
        later = [t for t in opened.get(user, []) if at <= t < at + timedelta(hours=DEFLECTION_HOURS)]
        deflected += not later
    return Searches(
        len(searches),
        len(answered),
        share(len(answered), len(searches)),
        len(base),
        deflected,
        share(deflected, len(base)),
    )


def top_articles(
    feedback: dict[str, dict[str, int]],
    catalogue: dict[str, CatalogueEntry],
    reader: Principal,
    in_scope: TeamTest,
) -> TopArticles:
    """Views and helpful / not-helpful votes in the window, per article. Only published articles that `reader`
    may read (kb.access.can_read_article) and that belong to a team in scope are counted, in the lists and in the
    totals alike; feedback on an article no longer in the store is not counted."""
    stats: list[ArticleStat] = []
    for article_id, kinds in feedback.items():
        article = catalogue.get(article_id)
        if article is None or article.status != "published" or not in_scope(article.team):
            continue
        if not can_read_article(reader, article.audience):
            continue
        stats.append(
            ArticleStat(
                article_id,
                article.title,
                article.team,
                kinds.get("view", 0),
                kinds.get("helpful", 0),
                kinds.get("not_helpful", 0),
            )
        )
    by_views = sorted((s for s in stats if s.views), key=lambda s: (-s.views, s.article_id))[:TOP_ARTICLES]
    by_helpful = sorted((s for s in stats if s.helpful), key=lambda s: (-s.helpful, s.article_id))[:TOP_ARTICLES]
    return TopArticles(
        by_views,
        by_helpful,
        sum(s.views for s in stats),
        sum(s.helpful for s in stats),
        sum(s.not_helpful for s in stats),
    )
