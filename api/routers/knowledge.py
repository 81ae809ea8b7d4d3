"""Keeping the KB useful: the articles a team should look at, its knowledge gaps, and writing one up."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from api.deps import KB, Reader
from api.schemas.knowledge import AttentionOut, GapDraftIn
from api.schemas.publishing import ArticleWork

router = APIRouter(prefix="/v1/knowledge", tags=["publishing"])


@router.get("/attention", response_model=AttentionOut, summary="A team's articles needing attention, and its gaps")
def attention(kb: KB, reader: Reader, team: Annotated[str, Query(max_length=100)]) -> AttentionOut:
    return AttentionOut.of(kb.insights.attention(team, reader))


@router.post("/gaps/draft", response_model=ArticleWork, status_code=201, summary="Write an article: a draft from a gap")
def draft_from_gap(kb: KB, reader: Reader, body: GapDraftIn, response: Response) -> ArticleWork:
    saved = kb.insights.draft_from_gap(body.team, body.example, reader)
    response.headers["ETag"] = saved.article.etag
    response.headers["Location"] = f"/v1/articles/{saved.article.id}"
    return ArticleWork.of(saved)
