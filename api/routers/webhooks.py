"""Webhooks (admins): register a receiver, list, delete, and see its recent deliveries."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from api.deps import KB, Reader
from api.schemas.webhooks import DeliveryOut, WebhookCreate, WebhookCreated, WebhookOut

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])

WebhookId = Annotated[int, Path(ge=1, le=2**31 - 1)]


@router.post("", response_model=WebhookCreated, status_code=201, summary="Register a webhook (admins)")
def create_webhook(kb: KB, reader: Reader, body: WebhookCreate) -> WebhookCreated:
    webhook, secret = kb.webhooks.create(reader, url=body.url, events=body.events, secret=body.secret)
    return WebhookCreated.model_validate({**webhook, "secret": secret})


@router.get("", response_model=list[WebhookOut], summary="Active webhooks, without their secrets (admins)")
def list_webhooks(kb: KB, reader: Reader) -> list[WebhookOut]:
    return [WebhookOut.model_validate(w) for w in kb.webhooks.registered(reader)]


@router.delete("/{webhook_id}", status_code=204, response_class=Response, summary="Delete a webhook (admins)")
def delete_webhook(kb: KB, reader: Reader, webhook_id: WebhookId) -> Response:
    kb.webhooks.delete(reader, webhook_id)
    return Response(status_code=204)


@router.get(
    "/{webhook_id}/deliveries",
    response_model=list[DeliveryOut],
    summary="A webhook's recent deliveries, newest first: status, attempts, last error (admins)",
)
def list_deliveries(
    kb: KB, reader: Reader, webhook_id: WebhookId, limit: Annotated[int, Query(ge=1, le=200)] = 50
) -> list[DeliveryOut]:
    return [
        DeliveryOut.model_validate({**row, "event": row["event_kind"]})
        for row in kb.webhooks.deliveries(reader, webhook_id, limit)
    ]
