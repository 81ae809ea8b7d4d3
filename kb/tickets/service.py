"""TicketService: the one way into the tickets domain. Routers and the CLI call `kb.tickets.<verb>`; each verb
asks kb.access, applies the domain's rules and answers what the caller shows (a view, an event, a draft).

The work is done by the modules with one job each: lifecycle (changes), queries (reads and pages), views (what a
reader sees), housekeeping (auto-close, SLA risk), payloads (what notifiers send)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from indexer.embedders import Embedder
from kb.access import (
    LOCAL_ADMIN,
    Principal,
    can_file_ticket_for_others,
    can_read_ticket,
    can_work_ticket,
    can_work_tickets,
)
from kb.best_effort import BestEffortWrites
from kb.errors import Conflict, Forbidden, InvalidInput
from kb.events import Announcement
from kb.publishing.service import Saved
from kb.search.searcher import Searcher
from kb.store.audit import AuditRepository
from kb.store.tickets import TicketRepository
from kb.store.users import UserRepository
from kb.teams import TeamDirectory
from kb.tickets.drafts import draft_ids, draft_markdown
from kb.tickets.housekeeping import TicketHousekeeping
from kb.tickets.lifecycle import TicketLifecycle
from kb.tickets.model import NewTicket, TicketChange, TicketEvent, TicketQuery
from kb.tickets.payloads import TicketPayloads
from kb.tickets.queries import TicketQueries
from kb.tickets.similar import SimilarCases, embed_resolved_tickets, find_similar
from kb.tickets.views import AudiencesOf, TicketView, TicketViews, all_public

# (Markdown, author, ticket id) -> the draft saved in the store (PublishingService.create)
DraftArticle = Callable[[str, Principal, int], Saved]


def _not_wired() -> Any:
    raise RuntimeError("this TicketService was built without a searcher and an embedder")


class TicketService:
    def __init__(
        self,
        repository: TicketRepository,
        teams: TeamDirectory,
        router: Callable[[str], str],
        users: UserRepository,
        *,
        audit: AuditRepository,
        audiences_of: AudiencesOf = all_public,
        relay: Callable[[list[int]], None] = lambda _: None,
        announce: Callable[[Sequence[Announcement]], None] = lambda _: None,
        refresh_targets: Callable[[], None] = lambda: None,
        searcher: Callable[[], Searcher] = _not_wired,
        embedder: Callable[[], Embedder] = _not_wired,
        best_effort: BestEffortWrites | None = None,
        draft_article: DraftArticle | None = None,
        auto_close_days: int = 7,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        """`router(text)` names the team of a ticket that names none; `relay` hands recorded events to the
        notifiers once their change committed, `announce` records and hands on events of no single ticket;
        `refresh_targets` reloads teams edited by another server; `searcher` and `embedder` are asked for only
        when similar cases are (loading them is slow)."""
        self._repository = repository
        self._audit = audit
        self._announce = announce
        self._refresh_targets = refresh_targets
        self._searcher = searcher
        self._embedder = embedder
        self._best_effort = best_effort or BestEffortWrites()
        self._draft_article = draft_article
        self._auto_close_days = auto_close_days
        self.views = TicketViews(repository, teams, audiences_of, clock)
        self.queries = TicketQueries(repository, teams, self.views)
        self.lifecycle = TicketLifecycle(repository, teams, router, users, self.queries, audiences_of, relay, clock)
        self.housekeeping = TicketHousekeeping(repository, teams, relay, clock)
        self.payloads = TicketPayloads(repository, teams, self.queries)

    # Create and read --------------------------------------------------------------------------------------
    def create(
        self, new: NewTicket, idempotency_key: str | None = None, reader: Principal = LOCAL_ADMIN
    ) -> tuple[TicketView, bool]:
        """(the requester's view of the ticket, replayed); the same key from the same requester returns the first
        ticket. A signed-in `reader` files under their own name whatever `new` says."""
        if not can_file_ticket_for_others(reader):
            new = replace(new, requester=reader.name)
        elif not new.requester.strip():
            raise InvalidInput("name the requester: who is asking for help", field="requester")
        # A due time from the targets as stored, even if another server just edited them; never waiting behind an
        # edit in this process, which may be waiting for the store's write lock.
        self._refresh_targets()
        ticket, replayed = self.lifecycle.create(new, idempotency_key)
        return self.views.view(ticket, Principal(name=ticket.requester), history=False), replayed

    def get(self, ticket_id: int, reader: Principal) -> TicketView:
        """The ticket with its history, as `reader` may see it; an agent's or admin's look at someone else's
        ticket is audited."""
        ticket = self.queries.readable(ticket_id, reader)
        if can_work_tickets(reader) and reader.name != ticket.requester:
            # Best effort: an agent must be able to read the ticket on a full disk (the drop is counted and logged).
            self._best_effort.attempt(
                "audit",
                lambda: self._audit.add(
                    actor=reader.name, action="ticket.view", target=str(ticket_id), origin=reader.origin
                ),
            )
        return self.views.view(ticket, reader)

    def find(self, reader: Principal, query: TicketQuery) -> tuple[list[TicketView], int]:
        """A page of the tickets `reader` may see, newest first, and how many match."""
        return self.queries.find(reader, query)

    # Change -----------------------------------------------------------------------------------------------
    def update(self, ticket_id: int, change: TicketChange, reader: Principal) -> TicketView:
        """Apply a PATCH. An agent who transferred the ticket away may no longer read it: they get the result
        without its history rather than a 404 for a change that did happen."""
        updated = self.lifecycle.update(ticket_id, change, reader)
        if can_read_ticket(reader, updated.requester, updated.team):
            return self.views.view(updated, reader)
        return {**self.views.view(updated, reader, history=False), "events": []}

    def reply(
        self, ticket_id: int, body: str, reader: Principal, idempotency_key: str | None = None
    ) -> tuple[TicketEvent, bool]:
        return self.lifecycle.reply(ticket_id, body, reader, idempotency_key)

    def note(self, ticket_id: int, body: str, reader: Principal) -> TicketEvent:
        return self.lifecycle.note(ticket_id, body, reader)

    def rate(self, ticket_id: int, score: int, comment: str | None, reader: Principal) -> TicketView:
        """Rate a resolved ticket once; answers the requester's view of it."""
        rated = self.lifecycle.rate(ticket_id, score, comment, reader)
        return self.views.view(rated, reader, history=False)

    # Knowledge from tickets -------------------------------------------------------------------------------
    def similar(self, ticket_id: int, reader: Principal, limit: int = 5) -> SimilarCases:
        """Resolved tickets and articles nearest to this ticket, among those `reader` may see."""
        ticket = self.queries.readable(ticket_id, reader)
        searcher, embedder = self._searcher(), self._embedder()
        return find_similar(ticket, reader, self._repository, searcher, embedder, limit)

    def draft(self, ticket_id: int, reader: Principal) -> Saved:
        """Turn a resolved ticket into a draft article owned by its team and linked to the ticket, for review."""
        ticket = self.queries.readable(ticket_id, reader)
        if not can_work_ticket(reader, ticket.team):
            raise Forbidden("drafting an article from a ticket is for the agents of its team")
        assert self._draft_article is not None, "a TicketService that drafts articles is given the publisher"
        notes = [e.body or "" for e in self._repository.events(ticket_id, internal=True) if e.kind == "note"]
        for article_id in draft_ids(ticket):
            try:
                saved = self._draft_article(draft_markdown(ticket, notes, article_id), reader, ticket.id)
            except Conflict as exc:
                if exc.field != "id":
                    raise
                continue
            self._announce([Announcement("article.drafted", {"article_id": article_id, "team": ticket.team})])
            return saved
        raise Conflict(f"too many drafts for ticket {ticket.id}", field="ticket_id")

    # Housekeeping -----------------------------------------------------------------------------------------
    def maintain(self) -> dict[str, list[int] | int]:
        """Periodic work: close tickets resolved long enough ago, flag SLA risk once per ticket, and embed newly
        resolved tickets for similar cases."""
        return {
            "closed": self.housekeeping.close_resolved(self._auto_close_days),
            "at_risk": self.housekeeping.flag_at_risk(),
            "embedded": embed_resolved_tickets(self._repository, self._embedder()),
        }

    def event_data(self, pending: dict[str, Any]) -> dict[str, Any]:
        """The payload of a recorded ticket event (see kb.tickets.payloads)."""
        return self.payloads.event_data(pending)
