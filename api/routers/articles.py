"""GET /v1/articles, /v1/articles/{id} and /v1/articles/{id}/related; feedback. Writing is api.routers.publishing."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, BackgroundTasks, Path, Query, Request, Response

from api.deps import KB, ModelThread, Reader
from api.preconditions import body_tag, not_modified, validators
from api.schemas.articles import ArticleDetail, ArticleFacets, ArticlePage, ArticleSummary, FeedbackCreate
from api.schemas.search import SearchResult

router = APIRouter(prefix="/v1/articles", tags=["articles"])


NOT_MODIFIED: dict[int | str, dict[str, Any]] = {
    304: {"description": "Your copy is current (If-None-Match, If-Modified-Since)"}
}


@router.get(
    "",
    response_model=ArticlePage,
    summary="Published articles, a page at a time (or a review queue)",
    responses=NOT_MODIFIED,
)
def list_articles(
    kb: KB,
    reader: Reader,
    request: Request,
    response: Response,
    page: Annotated[int, Query(ge=1)] = 1,
    per_page: Annotated[int, Query(ge=1, le=100)] = 20,
    team: Annotated[str | None, Query(max_length=100, description="Only this team's articles.")] = None,
    tag: Annotated[str | None, Query(max_length=100, description="Only articles with this tag.")] = None,
    status: Annotated[
        Literal["published", "draft", "review", "archived"],
        Query(description="Agents and admins: the articles of their teams in this state (`review`: the review queue)."),
    ] = "published",
) -> ArticlePage | Response:
    found = kb.articles.page(page=page, per_page=per_page, team=team, tag=tag, reader=reader, status=status)
    items = [ArticleSummary.of(article) for article in found.items]
    body = ArticlePage(
        items=items, page=page, per_page=per_page, total=found.total, facets=ArticleFacets(**found.facets)
    )
    etag = body_tag(body.model_dump_json().encode())
    if (unchanged := not_modified(request, etag)) is not None:
        return unchanged
    response.headers.update(validators(etag))
    return body


@router.get(
    "/{article_id}",
    response_model=ArticleDetail,
    summary="One article: metadata, Markdown, safe HTML",
    responses=NOT_MODIFIED,
)
def get_article(
    kb: KB,
    reader: Reader,
    request: Request,
    background: BackgroundTasks,
    response: Response,
    article_id: Annotated[str, Path(max_length=200)],
) -> ArticleDetail | Response:
    article = kb.publishing.get(article_id, reader)  # any state for its writers, published for its readers
    if (unchanged := not_modified(request, article.etag, article.synced_at)) is not None:
        return unchanged  # a revalidation of a copy the reader has: not a new view
    if article.published:
        background.add_task(kb.articles.record_view, article_id, reader)  # counted for "top articles"
    response.headers.update(validators(article.etag, article.synced_at))
    return ArticleDetail.of(article)


@router.post(
    "/{article_id}/feedback", status_code=204, summary="Did this article help? (feeds top articles and tickets)"
)
def article_feedback(
    kb: KB, reader: Reader, article_id: Annotated[str, Path(max_length=200)], body: FeedbackCreate
) -> None:
    kb.articles.feedback(article_id, body.helpful, reader, body.query, body.comment)


@router.get(
    "/{article_id}/related", response_model=list[SearchResult], summary="Articles about the same problem, nearest first"
)
async def related_articles(
    kb: KB,
    reader: Reader,
    model_thread: ModelThread,
    article_id: Annotated[str, Path(max_length=200)],
    limit: Annotated[
        int, Query(ge=1, description="How many articles to return (at most KB_MAX_RESULTS, 50 by default).")
    ] = 5,
) -> list[SearchResult]:
    hits = await model_thread.run(kb.articles.related, article_id, limit, reader)
    return [SearchResult.of(hit) for hit in hits]
