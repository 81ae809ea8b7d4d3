"""Tickets: create (idempotent), list, read, change, reply, note, rate; similar cases; draft an article."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Path, Query, Response

from api.deps import KB, ModelThread, Reader
from api.schemas.publishing import ArticleWork
from api.schemas.search import SearchResult
from api.schemas.tickets import (
    MessageCreate,
    SatisfactionCreate,
    SimilarCasesOut,
    SimilarTicket,
    TicketCreate,
    TicketDetail,
    TicketEvent,
    TicketOut,
    TicketPage,
    TicketUpdate,
)
from kb.tickets import NewTicket, TicketChange, TicketQuery
from kb.tickets.model import MAX_KEY, MAX_PER_PAGE, MAX_REQUESTER, MAX_SIMILAR_CASES, MAX_TEAM_NAME, SCOPES

router = APIRouter(prefix="/v1/tickets", tags=["tickets"])

TicketId = Annotated[int, Path(ge=1, le=2**31 - 1)]
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        max_length=MAX_KEY,
        description="Send the same key when retrying: the first result is returned, never a duplicate.",
    ),
]
REPLAYED = "Idempotent-Replayed"


@router.post("", response_model=TicketOut, status_code=201, summary="Open a ticket with a team")
def create_ticket(
    kb: KB, reader: Reader, body: TicketCreate, response: Response, idempotency_key: IdempotencyKey = None
) -> TicketOut:
    ticket, replayed = kb.tickets.create(
        NewTicket(**{**body.model_dump(), "requester": body.requester or ""}), idempotency_key, reader
    )
    response.headers[REPLAYED] = str(replayed).lower()
    return TicketOut.model_validate(ticket)


@router.get("", response_model=TicketPage, summary="Tickets you may see: yours, your teams', or all (admins)")
def list_tickets(
    kb: KB,
    reader: Reader,
    scope: Annotated[str, Query(pattern=f"^({'|'.join(SCOPES)})$", description="mine, team, or visible")] = "visible",
    status: Annotated[str | None, Query(max_length=20)] = None,
    team: Annotated[str | None, Query(max_length=MAX_TEAM_NAME)] = None,
    priority: Annotated[str | None, Query(max_length=20)] = None,
    assignee: Annotated[str | None, Query(max_length=MAX_REQUESTER)] = None,
    sla: Annotated[str | None, Query(max_length=20, description="on_track, at_risk or breached")] = None,
    page: Annotated[int, Query(ge=1)] = 1,
    per_page: Annotated[int, Query(ge=1, le=MAX_PER_PAGE)] = 20,
) -> TicketPage:
    query = TicketQuery(scope, status, team, priority, assignee, sla, page, per_page)
    items, total = kb.tickets.find(reader, query)
    return TicketPage(items=[TicketOut.model_validate(t) for t in items], page=page, per_page=per_page, total=total)


@router.get("/{ticket_id}", response_model=TicketDetail, summary="One ticket, with its SLA status and history")
def get_ticket(kb: KB, reader: Reader, ticket_id: TicketId) -> TicketDetail:
    return TicketDetail.model_validate(kb.tickets.get(ticket_id, reader))


@router.patch("/{ticket_id}", response_model=TicketDetail, summary="Change state, priority, team or assignee")
def update_ticket(kb: KB, reader: Reader, ticket_id: TicketId, body: TicketUpdate) -> TicketDetail:
    return TicketDetail.model_validate(kb.tickets.update(ticket_id, TicketChange(**body.model_dump()), reader))


@router.post("/{ticket_id}/replies", response_model=TicketEvent, status_code=201, summary="A reply the requester sees")
def reply(
    kb: KB,
    reader: Reader,
    ticket_id: TicketId,
    body: MessageCreate,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> TicketEvent:
    event, replayed = kb.tickets.reply(ticket_id, body.body, reader, idempotency_key)
    response.headers[REPLAYED] = str(replayed).lower()
    return TicketEvent.model_validate(event)


@router.post("/{ticket_id}/notes", response_model=TicketEvent, status_code=201, summary="An internal note")
def note(kb: KB, reader: Reader, ticket_id: TicketId, body: MessageCreate) -> TicketEvent:
    return TicketEvent.model_validate(kb.tickets.note(ticket_id, body.body, reader))


@router.post("/{ticket_id}/satisfaction", response_model=TicketOut, summary="Rate a resolved ticket (once)")
def satisfaction(kb: KB, reader: Reader, ticket_id: TicketId, body: SatisfactionCreate) -> TicketOut:
    return TicketOut.model_validate(kb.tickets.rate(ticket_id, body.score, body.comment, reader))


@router.get("/{ticket_id}/similar", response_model=SimilarCasesOut, summary="Similar resolved tickets and articles")
async def similar(
    kb: KB,
    reader: Reader,
    model_thread: ModelThread,
    ticket_id: TicketId,
    limit: Annotated[int, Query(ge=1, le=MAX_SIMILAR_CASES)] = 5,
) -> SimilarCasesOut:
    cases = await model_thread.run(kb.tickets.similar, ticket_id, reader, limit)
    return SimilarCasesOut(
        tickets=[SimilarTicket.model_validate(vars(t)) for t in cases.tickets],
        articles=[SearchResult.of(h) for h in cases.articles],
    )


@router.post(
    "/{ticket_id}/draft-article",
    response_model=ArticleWork,
    status_code=201,
    summary="Draft an article from a resolved ticket (a draft in the store, linked to the ticket, for review)",
)
def draft_article(kb: KB, reader: Reader, ticket_id: TicketId, response: Response) -> ArticleWork:
    saved = kb.tickets.draft(ticket_id, reader)
    response.headers["ETag"] = saved.article.etag
    response.headers["Location"] = f"/v1/articles/{saved.article.id}"
    return ArticleWork.of(saved)
