from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Priority = Literal["low", "normal", "high", "urgent"]


class TicketCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    subject: str = Field(min_length=1, max_length=300)
    description: str = Field(min_length=1, max_length=20_000)
    requester: str = Field(
        min_length=1, max_length=200, description="Who asks; for a signed-in user it is always that user."
    )
    team: str | None = Field(None, max_length=100, description="Owning team; routed from the text if absent.")
    priority: Priority = "normal"
    search_query: str | None = Field(None, max_length=1000, description="The search that found no answer.")
    viewed_article_ids: list[str] = Field(default_factory=list, max_length=50)


class TicketOut(BaseModel):
    id: int
    status: str
    team: str
    priority: Priority
    subject: str
    description: str
    requester: str
    search_query: str | None
    viewed_article_ids: list[str]
    created_at: datetime
    expected_first_response_by: datetime = Field(
        description="When the team will first respond, counted in its business hours and timezone."
    )
