"""POST /v1/tickets and GET /v1/tickets/{id}."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from api.deps import KB, Reader
from api.schemas.tickets import TicketCreate, TicketOut
from kb.access import LOCAL_ADMIN
from kb.tickets import NewTicket

router = APIRouter(prefix="/v1/tickets", tags=["tickets"])


@router.post("", response_model=TicketOut, status_code=201, summary="Open a ticket with a team")
def create_ticket(kb: KB, reader: Reader, body: TicketCreate) -> TicketOut:
    fields = body.model_dump()
    if reader.name != LOCAL_ADMIN.name:  # a signed-in user always asks as themselves
        fields["requester"] = reader.name
    return TicketOut.model_validate(kb.create_ticket(NewTicket(**fields)))


@router.get("/{ticket_id}", response_model=TicketOut, summary="One ticket")
def get_ticket(kb: KB, reader: Reader, ticket_id: Annotated[int, Path(ge=1, le=2**31 - 1)]) -> TicketOut:
    return TicketOut.model_validate(kb.ticket(ticket_id, reader))
