"""Net promoter score answers (0-10, at most one per user per quarter) and article views and votes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from kb.access import Principal
from kb.errors import Conflict, InvalidInput
from kb.store.surveys import ArticleFeedback, NpsAnswer, SurveyRepository

MAX_COMMENT = 2000
NPS_SCORES = (0, 10)  # how likely to recommend: 0 not at all, 10 certainly


def quarter_of(at: datetime) -> str:
    return f"{at.year}-Q{(at.month - 1) // 3 + 1}"


class SurveyService:
    def __init__(self, repository: SurveyRepository, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._repository = repository
        self._clock = clock

    def answer_nps(
        self, reader: Principal, score: int, comment: str | None = None, team: str | None = None
    ) -> NpsAnswer:
        low, high = NPS_SCORES
        if not low <= score <= high:
            raise InvalidInput(f"`score` must be {low} to {high}", field="score")
        if comment is not None and len(comment) > MAX_COMMENT:
            raise InvalidInput(f"`comment` is longer than {MAX_COMMENT} characters", field="comment")
        now = self._clock()
        quarter = quarter_of(now)
        stored = self._repository.add_nps(
            NpsAnswer(
                user=reader.name,
                quarter=quarter,
                score=score,
                comment=(comment or "").strip() or None,
                team=team,
                at=now,
            )
        )
        if stored is None:
            raise Conflict(f"you have already answered the survey for {quarter}; thank you", field="score")
        return stored

    def feedback(
        self, article_id: str, reader: Principal, kind: str, query: str | None = None, comment: str | None = None
    ) -> None:
        if comment is not None and len(comment) > MAX_COMMENT:
            raise InvalidInput(f"`comment` is longer than {MAX_COMMENT} characters", field="comment")
        comment = (comment or "").strip() or None
        self._repository.add_feedback(ArticleFeedback(article_id, reader.name, kind, query, self._clock(), comment))
