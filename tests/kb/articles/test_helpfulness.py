"""The smoothed helpful score and the ranking boost it gives, and per-article deflection."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from kb.access import LOCAL_ADMIN
from kb.articles.helpfulness import PRIOR_VOTES, helpful_score, ranking_boost
from kb.articles.insights import ArticleInsights
from kb.service import KnowledgeBase
from kb.store.surveys import ArticleFeedback
from kb.tickets.model import NewTicket

pytestmark = pytest.mark.both_stores

VPN = "vpn-drops-on-public-wifi"


def test_no_votes_is_neutral() -> None:
    assert helpful_score(0, 0) == 0.5
    assert ranking_boost(0, 0) == 1.0


@pytest.mark.parametrize(("helpful", "not_helpful"), [(0, 3), (3, 0), (0, 1), (1, 0)])
def test_a_handful_of_votes_moves_ranking_by_under_two_percent(helpful: int, not_helpful: int) -> None:
    assert abs(ranking_boost(helpful, not_helpful) - 1.0) < 0.02


def test_the_boost_is_bounded_whatever_the_votes() -> None:
    assert 0.95 <= ranking_boost(0, 10_000) < ranking_boost(10_000, 0) <= 1.05
    # Ten votes move the score half way from 0.5 to their own ratio.
    assert helpful_score(PRIOR_VOTES, 0) == pytest.approx(0.75)


def test_deflection_counts_searched_views_not_followed_by_a_ticket_within_a_day(small_kb: KnowledgeBase) -> None:
    small_kb.indexing.build()
    now = datetime.now(UTC)
    surveys = small_kb.store.surveys
    for user, hours_ago, query in (("ana", 2, "vpn drops"), ("bob", 2, "vpn keeps dropping"), ("cy", 2, None)):
        surveys.add_feedback(ArticleFeedback(VPN, user, "view", query, now - timedelta(hours=hours_ago)))
    small_kb.tickets.create(NewTicket("VPN still drops", "After the article, still dropping.", "bob", team="IT"))
    # Judged a day later: ana's search ended at the article; bob filed a ticket within 24 hours; cy did not search.
    insights = ArticleInsights(
        small_kb.store.articles,
        surveys,
        small_kb.store.tickets,
        small_kb.store.search_log,
        lambda _text: "IT",
        lambda _markdown, _author, _comment: pytest.fail("no draft here"),
        stale_days=365,
        clock=lambda: now + timedelta(hours=23),
    )
    stats = insights.stats(VPN, LOCAL_ADMIN)
    assert (stats.views, stats.viewers, stats.views_from_search, stats.deflected) == (3, 3, 2, 1)
    assert stats.deflection == 0.5
