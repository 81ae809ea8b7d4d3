from __future__ import annotations

from pydantic import BaseModel, Field

from kb.search.searcher import SearchHit


class SearchResult(BaseModel):
    article_id: str
    title: str
    team: str | None
    section: str = Field(description="The section of the article that answers.")
    snippet: str = Field(description="The passage that answers: the best sentences of the best section.")
    matched_terms: list[str] = Field(description="Query terms (stemmed) found in the snippet.")
    score: float
    language: str = Field(description="The article's language (ISO 639-1).")
    translation_of: str | None = Field(
        description="The original article's id when this result is a translation of it (shown for a reader who "
        "asked in its language); the original and its translations are one result."
    )
    url: str

    @classmethod
    def of(cls, hit: SearchHit) -> SearchResult:
        """A search hit with the address of its article."""
        return cls(**vars(hit), url=f"/v1/articles/{hit.article_id}")


class TicketOffer(BaseModel):
    """Send it back as `POST /v1/tickets` (with the requester): the fields have the same names."""

    suggested_team: str
    subject: str
    description: str = Field(description="Names only articles that every reader of the ticket may read.")
    search_query: str
    viewed_article_ids: list[str] = Field(
        description="The articles the search showed you; each reader of the ticket sees only those they may read."
    )


class SearchResponse(BaseModel):
    query: str
    language: str = Field(description="The query's language as detected (ISO 639-1), which weighs the retrievers.")
    corrected_query: str | None = Field(
        None, description='What was searched instead, when a word looked misspelt ("the printr" → "the printer").'
    )
    answered: bool = Field(description="True when confidence reaches the answer threshold (KB_ANSWER_THRESHOLD).")
    confidence: float = Field(ge=0, le=1)
    results: list[SearchResult]
    ticket: TicketOffer | None = Field(description="Prefilled ticket offer when there is no confident answer.")
