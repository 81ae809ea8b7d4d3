"""NPS answers and article feedback (views and votes): what employees tell the desks about the service."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from kb.store import schema


@dataclass(frozen=True)
class NpsAnswer:
    """One user's answer for one quarter (0-10: how likely they are to recommend the service desks)."""

    user: str
    quarter: str  # "2026-Q4"
    score: int
    comment: str | None
    team: str | None  # the desk the answer is about, when given
    at: datetime
    id: int | None = None  # None until stored


@dataclass(frozen=True)
class ArticleFeedback:
    """An article view or a vote on it (helpful, not_helpful), with the search that led there."""

    article_id: str
    user: str
    kind: str  # view, or one of schema.VOTE_KINDS
    query: str | None
    at: datetime
    comment: str | None = None  # a voter's words: what was missing or wrong


class SurveyRepository:
    """NPS answers (one per user per quarter, enforced by a unique key) and article feedback."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def add_nps(self, answer: NpsAnswer) -> NpsAnswer | None:
        """The stored answer, or None when this user already answered this quarter."""
        values = {k: v for k, v in asdict(answer).items() if k != "id"}
        try:
            with self._engine.begin() as conn:
                inserted = conn.execute(sa.insert(schema.nps_responses).values(**values))
        except sa.exc.IntegrityError:
            return None
        return NpsAnswer(**values, id=int(inserted.inserted_primary_key[0]))  # type: ignore[index]

    def add_feedback(self, feedback: ArticleFeedback) -> None:
        """Views add up; a vote (helpful or not) replaces the user's earlier vote on the same article."""
        table = schema.article_feedback
        with self._engine.begin() as conn:
            if feedback.kind in schema.VOTE_KINDS:
                conn.execute(
                    sa.delete(table).where(
                        table.c.article_id == feedback.article_id,
                        table.c.user == feedback.user,
                        table.c.kind.in_(schema.VOTE_KINDS),
                    )
                )
            conn.execute(sa.insert(table).values(**asdict(feedback)))

    def vote_counts(self) -> dict[str, tuple[int, int]]:
        """(helpful, not helpful) votes per article that has any."""
        table = schema.article_feedback
        query = (
            sa.select(table.c.article_id, table.c.kind, sa.func.count())
            .where(table.c.kind.in_(schema.VOTE_KINDS))
            .group_by(table.c.article_id, table.c.kind)
        )
        counts: dict[str, list[int]] = {}
        with self._engine.connect() as conn:
            for article_id, kind, count in conn.execute(query):
                counts.setdefault(article_id, [0, 0])[0 if kind == "helpful" else 1] += int(count)
        return {article_id: (pair[0], pair[1]) for article_id, pair in counts.items()}

    def of_article(self, article_id: str) -> list[ArticleFeedback]:
        """Every view and vote of one article, oldest first."""
        table = schema.article_feedback
        query = sa.select(table).where(table.c.article_id == article_id).order_by(table.c.at, table.c.id)
        with self._engine.connect() as conn:
            return [
                ArticleFeedback(r.article_id, r.user, r.kind, r.query, r.at, r.comment) for r in conn.execute(query)
            ]
