"""Webhooks: registration, listing (never the secret), and the delivery log of the outbox."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from kb.events import EVENT_KINDS


class WebhookCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(
        max_length=2000,
        description="Where events are POSTed: an http or https URL without credentials, whose host resolves to "
        "public addresses only (unless allow-listed by KB_WEBHOOK_ALLOWED_TARGETS).",
    )
    events: list[str] = Field(
        max_length=len(EVENT_KINDS) + 1,
        description=f"Event kinds to receive, among {', '.join(EVENT_KINDS)}; `*` for all.",
    )
    secret: str | None = Field(
        None,
        max_length=200,
        description="Signing secret (16-200 characters); generated when absent. Shown in this response only.",
    )


class WebhookOut(BaseModel):
    id: int
    url: str
    events: list[str]
    created_by: str
    created_at: datetime
    active: bool


class WebhookCreated(WebhookOut):
    secret: str = Field(description="The signing secret: store it now, it is never shown again.")


class DeliveryOut(BaseModel):
    id: int = Field(description="The outbox id: the body's `id` and the X-KB-Delivery header.")
    event: str
    status: Literal["pending", "delivered", "failed"] = Field(
        description="pending: not yet delivered, retried at `next_attempt_at`; failed: given up."
    )
    attempts: int
    created_at: datetime
    next_attempt_at: datetime | None
    delivered_at: datetime | None
    last_error: str | None = Field(
        description="The last failed attempt's outcome in a few words (`HTTP 500 Internal Server Error`, `timeout`, "
        "`connection refused`, `refused: 127.0.0.1 is a loopback address`); never the receiver's answer."
    )
