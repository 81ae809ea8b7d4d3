"""GET /v1/articles and /v1/articles/{id}."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from api.deps import KB, Reader
from api.schemas.articles import ArticleDetail, ArticlePage, ArticleSummary

router = APIRouter(prefix="/v1/articles", tags=["articles"])


@router.get("", response_model=ArticlePage, summary="Published articles, a page at a time")
def list_articles(
    kb: KB,
    reader: Reader,
    page: Annotated[int, Query(ge=1)] = 1,
    per_page: Annotated[int, Query(ge=1, le=100)] = 20,
    team: Annotated[str | None, Query(max_length=100)] = None,
) -> ArticlePage:
    rows, total = kb.articles(page=page, per_page=per_page, team=team, reader=reader)
    items = [ArticleSummary.model_validate({**r, "url": f"/v1/articles/{r['id']}"}) for r in rows]
    return ArticlePage(items=items, page=page, per_page=per_page, total=total)


@router.get("/{article_id}", response_model=ArticleDetail, summary="One article: metadata, Markdown, safe HTML")
def get_article(kb: KB, reader: Reader, article_id: Annotated[str, Path(max_length=200)]) -> ArticleDetail:
    article = kb.article(article_id, reader)
    return ArticleDetail.model_validate({**article, "markdown": article["body"]})
