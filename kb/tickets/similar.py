"""Similar past cases: the resolved tickets and the articles nearest to a ticket, by the same embeddings
as search. Ticket vectors are computed once per ticket and kept in the store; the ticket's own text is
encoded through the Searcher, which has just encoded it to find the articles."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from indexer.embedders import Embedder
from kb.access import Principal, can_read_ticket
from kb.search.searcher import Searcher, SearchHit
from kb.store.tickets import TicketFilter, TicketRepository
from kb.tickets.model import Ticket
from kb.tickets.states import DONE

# Embedding is the slow part: a request fills at most this many missing ticket vectors; maintenance does the rest.
MAX_NEW_VECTORS = 256


@dataclass(frozen=True)
class SimilarTicket:
    id: int
    subject: str
    team: str
    resolution: str | None
    resolved_at: Any
    similarity: float


@dataclass(frozen=True)
class SimilarCases:
    tickets: list[SimilarTicket]
    articles: list[SearchHit]


def ticket_text(ticket: Ticket) -> str:
    return f"{ticket.subject}. {ticket.description}"


def _embed(
    repository: TicketRepository, embedder: Embedder, tickets: list[Ticket]
) -> dict[int, npt.NDArray[np.float32]]:
    if not tickets:
        return {}
    fresh = embedder.encode([ticket_text(t) for t in tickets])
    vectors = {t.id: np.asarray(v, dtype=np.float32) for t, v in zip(tickets, fresh, strict=True)}
    repository.put_vectors(embedder.name, vectors)
    return vectors


def embed_resolved_tickets(repository: TicketRepository, embedder: Embedder, batch: int = 256) -> int:
    """Embed every resolved ticket that has no vector yet (server maintenance), so that similar cases look at
    all of them; a request only fills a few itself. Returns how many were embedded."""
    missing = repository.without_vector(embedder.name, DONE)
    for start in range(0, len(missing), batch):
        _embed(repository, embedder, missing[start : start + batch])
    return len(missing)


def find_similar(
    ticket: Ticket,
    reader: Principal,
    repository: TicketRepository,
    searcher: Searcher,
    embedder: Embedder,
    limit: int,
) -> SimilarCases:
    with searcher.one_encoding():
        return _find_similar(ticket, reader, repository, searcher, embedder, limit)


def _find_similar(
    ticket: Ticket,
    reader: Principal,
    repository: TicketRepository,
    searcher: Searcher,
    embedder: Embedder,
    limit: int,
) -> SimilarCases:
    text = ticket_text(ticket)
    articles = searcher.search(text, limit, reader, truncate=True).hits
    past = [
        t
        for t in repository.find(TicketFilter(statuses=DONE))
        if t.id != ticket.id and can_read_ticket(reader, t.requester, t.team)
    ]
    if not past:
        return SimilarCases([], articles)
    vectors = repository.vectors(embedder.name, [t.id for t in past])
    vectors.update(_embed(repository, embedder, [t for t in past if t.id not in vectors][:MAX_NEW_VECTORS]))
    candidates = [t for t in past if t.id in vectors]
    # The search above encoded the text with its whitespace collapsed (kb.search.searcher.clean_query); the
    # encoders split on whitespace, so asking for that form gives the same vector without encoding it again
    # (a text the search cut or corrected differs, and is encoded here).
    query = np.asarray(searcher.encode(" ".join(text.split())), dtype=np.float32)
    scores = np.stack([vectors[t.id] for t in candidates]) @ query
    order = np.argsort(-scores)[:limit]
    return SimilarCases(
        [
            SimilarTicket(
                id=candidates[i].id,
                subject=candidates[i].subject,
                team=candidates[i].team,
                resolution=candidates[i].resolution,
                resolved_at=candidates[i].resolved_at,
                similarity=round(float(scores[i]), 4),
            )
            for i in order
        ],
        articles,
    )
