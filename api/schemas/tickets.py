from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from api.schemas.search import SearchResult
from kb.surveys import MAX_COMMENT as MAX_NPS_COMMENT
from kb.surveys import NPS_SCORES
from kb.teams.model import Priority
from kb.tickets.model import (
    CSAT_SCORES,
    MAX_CONTEXT_ARTICLES,
    MAX_CSAT_COMMENT,
    MAX_DESCRIPTION,
    MAX_MESSAGE,
    MAX_REQUESTER,
    MAX_SEARCH_QUERY,
    MAX_SUBJECT,
    MAX_TEAM_NAME,
)
from kb.tickets.sla import ClockState, SlaState
from kb.tickets.states import Status


class TicketCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    subject: str = Field(min_length=1, max_length=MAX_SUBJECT)
    description: str = Field(min_length=1, max_length=MAX_DESCRIPTION)
    requester: str | None = Field(
        None,
        min_length=1,
        max_length=MAX_REQUESTER,
        description="Who asks: required from the trusted local admin; a signed-in user's ticket is always theirs.",
    )
    team: str | None = Field(None, max_length=MAX_TEAM_NAME, description="Owning team; routed from the text if absent.")
    priority: Priority = "normal"
    search_query: str | None = Field(None, max_length=MAX_SEARCH_QUERY, description="The search that found no answer.")
    viewed_article_ids: list[str] = Field(default_factory=list, max_length=MAX_CONTEXT_ARTICLES)
    not_helpful_article_ids: list[str] = Field(
        default_factory=list,
        max_length=MAX_CONTEXT_ARTICLES,
        description="Articles the requester marked as not helping.",
    )


class TicketUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: Status | None = None
    priority: Priority | None = None
    team: str | None = Field(None, min_length=1, max_length=MAX_TEAM_NAME, description="Transfer to this team.")
    assignee: str | None = Field(None, max_length=MAX_REQUESTER, description="An agent of the team; empty unassigns.")
    resolution: str | None = Field(
        None, max_length=MAX_MESSAGE, description="Required when setting status to resolved: what fixed it."
    )


class MessageCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    body: str = Field(min_length=1, max_length=MAX_MESSAGE)


class SatisfactionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    score: int = Field(ge=CSAT_SCORES[0], le=CSAT_SCORES[1], description="1 (very dissatisfied) to 5 (very satisfied).")
    comment: str | None = Field(None, max_length=MAX_CSAT_COMMENT)


class NpsCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    score: int = Field(
        ge=NPS_SCORES[0],
        le=NPS_SCORES[1],
        description="How likely are you to recommend our internal services (0-10)?",
    )
    comment: str | None = Field(None, max_length=MAX_NPS_COMMENT)
    team: str | None = Field(None, max_length=MAX_TEAM_NAME, description="The desk this answer is about, if one.")


class NpsOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)  # kb.store.surveys.NpsAnswer

    id: int
    quarter: str
    score: int


class Clock(BaseModel):
    state: ClockState
    due: datetime
    target_hours: float
    used_hours: float = Field(description="Business hours used so far (the resolution clock stops while pending).")


class Sla(BaseModel):
    state: SlaState = Field(description="The worse of the two clocks.")
    paused: bool = Field(description="True while the ticket waits on the requester (pending).")
    first_response: Clock
    resolution: Clock


class TicketEvent(BaseModel):
    model_config = ConfigDict(from_attributes=True)  # the domain's TicketEvent

    id: int
    at: datetime
    actor: str
    kind: str = Field(description="created, change, reply, note (internal), resolution, csat")
    field: str | None
    old: str | None
    new: str | None
    body: str | None
    internal: bool


class TicketOut(BaseModel):
    id: int
    status: Status
    team: str
    priority: Priority
    subject: str
    description: str
    requester: str
    assignee: str | None
    search_query: str | None
    viewed_article_ids: list[str]
    not_helpful_article_ids: list[str]
    created_at: datetime
    updated_at: datetime | None
    first_response_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    resolution: str | None
    csat_score: int | None
    expected_first_response_by: datetime = Field(
        description="When the team will first respond, counted in its business hours and timezone."
    )
    expected_resolution_by: datetime | None = Field(
        None, description="When the team aims to resolve it, in business hours; moves later while pending."
    )
    sla: Sla | None = None


class TicketDetail(TicketOut):
    events: list[TicketEvent] = Field(description="Every change and message; internal notes only for agents.")


class TicketPage(BaseModel):
    items: list[TicketOut]
    page: int
    per_page: int
    total: int


class SimilarTicket(BaseModel):
    id: int
    subject: str
    team: str
    resolution: str | None
    resolved_at: datetime | None
    similarity: float


class SimilarCasesOut(BaseModel):
    tickets: list[SimilarTicket]
    articles: list[SearchResult]
