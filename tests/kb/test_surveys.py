"""NPS answers (once per user per quarter) and article feedback (views add up, a vote replaces the last one)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from kb.access import Principal
from kb.errors import Conflict, InvalidInput
from kb.store import Store, schema
from kb.surveys import SurveyService, quarter_of

pytestmark = pytest.mark.both_stores

ANA = Principal(name="ana")
NOVEMBER = dt.datetime(2026, 11, 3, 10, 0, tzinfo=dt.UTC)


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    opened = Store(database_url)
    yield opened
    opened.close()


def test_quarters_are_named_by_year_and_number() -> None:
    assert [quarter_of(dt.datetime(2026, m, 1)) for m in (1, 3, 4, 12)] == ["2026-Q1", "2026-Q1", "2026-Q2", "2026-Q4"]


def test_one_nps_answer_per_user_and_quarter(store: Store) -> None:
    surveys = SurveyService(store.surveys, clock=lambda: NOVEMBER)
    answer = surveys.answer_nps(ANA, 9, "  Quick desk  ", team="IT")
    assert (answer.quarter, answer.score, answer.comment, answer.team) == ("2026-Q4", 9, "Quick desk", "IT")
    assert answer.id is not None
    with pytest.raises(Conflict):
        surveys.answer_nps(ANA, 3)


@pytest.mark.parametrize("score", [-1, 11])
def test_nps_scores_run_from_0_to_10(store: Store, score: int) -> None:
    with pytest.raises(InvalidInput) as raised:
        SurveyService(store.surveys).answer_nps(ANA, score)
    assert raised.value.field == "score"


def test_views_add_up_and_a_vote_replaces_the_earlier_one(store: Store) -> None:
    surveys = SurveyService(store.surveys, clock=lambda: NOVEMBER)
    for kind in ("view", "view", "helpful", "not_helpful"):
        surveys.feedback("vpn-drops", ANA, kind, query="vpn")
    with store.engine.connect() as conn:
        kinds = [row.kind for row in conn.execute(sa.select(schema.article_feedback).order_by("id"))]
    assert kinds == ["view", "view", "not_helpful"]
