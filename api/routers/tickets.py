"""POST /v1/tickets and GET /v1/tickets/{id}."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from api.deps import KB
from api.schemas.tickets import TicketCreate, TicketOut
from kb.tickets import NewTicket

router = APIRouter(prefix="/v1/tickets", tags=["tickets"])


@router.post("", response_model=TicketOut, status_code=201, summary="Open a ticket with a team")
def create_ticket(kb: KB, body: TicketCreate) -> TicketOut:
    return TicketOut.model_validate(kb.create_ticket(NewTicket(**body.model_dump())))


@router.get("/{ticket_id}", response_model=TicketOut, summary="One ticket")
def get_ticket(kb: KB, ticket_id: Annotated[int, Path(ge=1, le=2**31 - 1)]) -> TicketOut:
    return TicketOut.model_validate(kb.ticket(ticket_id))
