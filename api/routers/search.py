"""GET /v1/search."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Query

from api.deps import KB, ModelThread, Reader
from api.schemas.search import SearchResponse, SearchResult, TicketOffer

router = APIRouter(prefix="/v1", tags=["search"])


@router.get("/search", response_model=SearchResponse, summary="Ranked answers, or a ticket offer")
async def search(
    kb: KB,
    reader: Reader,
    model_thread: ModelThread,
    background: BackgroundTasks,
    q: Annotated[
        str,
        Query(
            min_length=1,
            pattern=r"\S",
            description="What is wrong, in your own words (not only spaces; at most KB_MAX_QUERY_CHARS characters, "
            "1000 by default).",
        ),
    ],
    limit: Annotated[
        int, Query(ge=1, description="How many articles to return (at most KB_MAX_RESULTS, 50 by default).")
    ] = 5,
) -> SearchResponse:
    started = time.perf_counter()
    outcome = await model_thread.run(kb.search.find, q, limit, reader=reader, record=False)
    background.add_task(kb.search.record, outcome, (time.perf_counter() - started) * 1000, reader.name)
    return SearchResponse(
        query=outcome.query,
        language=outcome.language,
        corrected_query=outcome.corrected_query,
        answered=outcome.answered,
        confidence=outcome.confidence,
        results=[SearchResult.of(hit) for hit in outcome.hits],
        ticket=TicketOffer(**vars(outcome.ticket)) if outcome.ticket else None,
    )
