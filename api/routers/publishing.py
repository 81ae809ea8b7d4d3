"""Writing and reviewing articles: POST/PUT/DELETE /v1/articles, transitions, versions, diff and restore.

Every change answers the article's new `ETag`; PUT and restore need `If-Match` (a stale one: 412, nothing
saved), transitions and delete accept it."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Path, Query, Response

from api.deps import KB, Reader
from api.preconditions import PRECONDITION_FAILED, PRECONDITION_REQUIRED, entity_tags
from api.schemas.knowledge import ArticleStatsOut
from api.schemas.publishing import ArticleWork, ArticleWrite, DiffOut, TransitionIn, VersionOut, VersionSummary
from kb.errors import PreconditionRequired
from kb.publishing.service import Saved

router = APIRouter(prefix="/v1/articles", tags=["publishing"])

ArticleId = Annotated[str, Path(max_length=200)]
VersionNumber = Annotated[int, Path(ge=1)]
IfMatch = Annotated[
    str | None,
    Header(
        alias="If-Match",
        description="The article's `ETag` as last read: the change is made only over that version and state.",
    ),
]


def _required(header: str | None) -> frozenset[str]:
    tags = entity_tags(header)
    if tags is None:
        raise PreconditionRequired(
            "send the article's ETag (from its last read or change) in If-Match", field="If-Match"
        )
    return tags


def _answer(saved: Saved, response: Response) -> ArticleWork:
    response.headers["ETag"] = saved.article.etag
    return ArticleWork.of(saved)


@router.post("", response_model=ArticleWork, status_code=201, summary="Write a new article (a draft)")
def create_article(kb: KB, reader: Reader, body: ArticleWrite, response: Response) -> ArticleWork:
    saved = kb.publishing.create(body.markdown, reader, comment=body.comment)
    response.headers["Location"] = f"/v1/articles/{saved.article.id}"
    return _answer(saved, response)


@router.get("/{article_id}/work", response_model=ArticleWork, summary="An article as its writers see it")
def article_work(kb: KB, reader: Reader, article_id: ArticleId, response: Response) -> ArticleWork:
    return _answer(kb.publishing.newest(article_id, reader), response)


@router.put(
    "/{article_id}",
    response_model=ArticleWork,
    summary="Save a new version of an article (If-Match required)",
    responses={**PRECONDITION_FAILED, **PRECONDITION_REQUIRED},
)
def update_article(
    kb: KB, reader: Reader, article_id: ArticleId, body: ArticleWrite, response: Response, if_match: IfMatch = None
) -> ArticleWork:
    saved = kb.publishing.update(article_id, body.markdown, reader, _required(if_match), comment=body.comment)
    return _answer(saved, response)


@router.post(
    "/{article_id}/transitions",
    response_model=ArticleWork,
    summary="Submit for review, send back, publish, archive or revive",
    responses=PRECONDITION_FAILED,
)
def transition_article(
    kb: KB, reader: Reader, article_id: ArticleId, body: TransitionIn, response: Response, if_match: IfMatch = None
) -> ArticleWork:
    saved = kb.publishing.transition(article_id, body.to, reader, entity_tags(if_match), comment=body.comment)
    return _answer(saved, response)


@router.delete(
    "/{article_id}",
    status_code=204,
    summary="Delete an article and its history (admins)",
    responses=PRECONDITION_FAILED,
)
def delete_article(kb: KB, reader: Reader, article_id: ArticleId, if_match: IfMatch = None) -> None:
    kb.publishing.delete(article_id, reader, entity_tags(if_match))


@router.get("/{article_id}/stats", response_model=ArticleStatsOut, summary="Views, votes and deflection")
def article_stats(kb: KB, reader: Reader, article_id: ArticleId) -> ArticleStatsOut:
    return ArticleStatsOut.of(kb.insights.stats(article_id, reader))


@router.get("/{article_id}/versions", response_model=list[VersionSummary], summary="Every saved version, oldest first")
def list_versions(kb: KB, reader: Reader, article_id: ArticleId) -> list[VersionSummary]:
    return [VersionSummary.of(v) for v in kb.publishing.versions(article_id, reader)]


@router.get("/{article_id}/versions/{number}", response_model=VersionOut, summary="One version's Markdown")
def get_version(kb: KB, reader: Reader, article_id: ArticleId, number: VersionNumber) -> VersionOut:
    return VersionOut.of(kb.publishing.version(article_id, number, reader))


@router.get("/{article_id}/diff", response_model=DiffOut, summary="Unified diff between two versions")
def diff_versions(
    kb: KB,
    reader: Reader,
    article_id: ArticleId,
    from_version: Annotated[int, Query(alias="from", ge=1)],
    to_version: Annotated[int, Query(alias="to", ge=1)],
) -> DiffOut:
    diff = kb.publishing.diff(article_id, from_version, to_version, reader)
    return DiffOut(from_version=from_version, to_version=to_version, diff=diff)


@router.post(
    "/{article_id}/versions/{number}/restore",
    response_model=ArticleWork,
    summary="Save an old version as the newest (If-Match required)",
    responses={**PRECONDITION_FAILED, **PRECONDITION_REQUIRED},
)
def restore_version(
    kb: KB, reader: Reader, article_id: ArticleId, number: VersionNumber, response: Response, if_match: IfMatch = None
) -> ArticleWork:
    return _answer(kb.publishing.restore(article_id, number, reader, _required(if_match)), response)
