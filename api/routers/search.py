"""GET /v1/search."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import KB
from api.schemas.search import SearchResponse, SearchResult, TicketOffer

router = APIRouter(prefix="/v1", tags=["search"])


@router.get("/search", response_model=SearchResponse, summary="Ranked answers, or a ticket offer")
def search(
    kb: KB,
    q: Annotated[str, Query(description="What is wrong, in your own words (1-1000 characters).")],
    limit: Annotated[int, Query(ge=1, le=50, description="How many articles to return.")] = 5,
) -> SearchResponse:
    outcome = kb.search(q, limit)
    return SearchResponse(
        query=outcome.query,
        answered=outcome.answered,
        confidence=outcome.confidence,
        results=[SearchResult(**vars(hit), url=f"/v1/articles/{hit.article_id}") for hit in outcome.hits],
        ticket=TicketOffer(**vars(outcome.ticket)) if outcome.ticket else None,
    )
