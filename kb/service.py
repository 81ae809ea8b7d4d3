"""The KnowledgeBase: one object that the API and the CLI share, built once from the settings."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from indexer.build import POINTER, Progress, current_generation, load_index
from indexer.embedders import Embedder
from indexer.errors import IndexDamagedError, IndexMismatchError, IndexMissingError, ModelUnavailableError
from kb.access import Principal, can_read_article, can_read_ticket, can_work_ticket
from kb.articles import LoadResult, render_html
from kb.articles.listing import ArticlePage, facets
from kb.best_effort import BestEffortWrites
from kb.errors import Forbidden, IndexNotReady, InvalidInput, NotFound
from kb.events import EventBus, EventRelay
from kb.indexing import IndexReport, index_articles, read_articles
from kb.metrics import ServiceMetrics, checked_metrics
from kb.notify.email import EmailNotifier
from kb.notify.webhooks import WebhookService, WebhookWorker
from kb.search import Searcher, SearchOutcome
from kb.search.searcher import EVERYONE, SearchHit
from kb.settings import Settings
from kb.store import Store
from kb.store.event_log import Announcement
from kb.store.faults import check_writable
from kb.store.teams import TeamOverrideRepository
from kb.store.webhooks import WebhookRepository
from kb.surveys import SurveyService
from kb.teams import load_teams
from kb.teams.service import TeamService
from kb.tickets import NewTicket, TicketChange, TicketService
from kb.tickets.drafts import Draft, write_draft
from kb.tickets.similar import SimilarCases, embed_resolved_tickets, find_similar
from kb.users import UserService

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class IndexStatus:
    """`state` is ready, degraded (an older generation serves: the live one could not be loaded) or
    unavailable (nothing to serve)."""

    state: Literal["ready", "degraded", "unavailable"]
    serving: str | None
    unloadable: str | None


def load_embedder(settings: Settings) -> Embedder:
    from indexer.embedders.sentence_transformer import SentenceTransformerEmbedder

    try:
        return SentenceTransformerEmbedder(settings.model_path)
    except ModelUnavailableError as exc:
        raise IndexNotReady(str(exc), field="model_path") from exc


class KnowledgeBase:
    """Settings, store, model, teams and the live index; reloads the index when a new generation lands."""

    def __init__(self, settings: Settings, embedder: Embedder | None = None) -> None:
        self.settings = settings
        check_writable(settings.data_dir)
        self.store = Store(settings.resolved_database_url)
        self.teams = TeamService(
            load_teams(settings.resolved_teams_file), TeamOverrideRepository(self.store.engine), self.store.audit
        )
        self.teams.apply_overrides()  # admins' edits (stored) over the teams file
        self._embedder = embedder
        self._searcher: Searcher | None = None
        self.best_effort = BestEffortWrites()
        self._unloadable: str | None = None  # the live generation that failed to load: not retried, logged once
        self._lock = threading.Lock()
        self.events = EventBus()
        self.relay = EventRelay(self.store.event_log, self.events, lambda pending: self.tickets.event_data(pending))
        self.tickets = TicketService(
            self.store.tickets,
            self.teams.directory,
            self._route,
            self.store.users,
            audiences_of=self.store.articles.audiences,
            relay=self.relay.relay,
        )
        self.users = UserService(self.store.users, self.store.audit, settings.token_days, best_effort=self.best_effort)
        self.surveys = SurveyService(self.store.surveys)
        # Notifications: webhooks always go to the durable outbox (the CLI's events too); e-mail when configured.
        self.webhooks = WebhookService(
            WebhookRepository(self.store.engine), self.store.audit, allowed_targets=settings.webhook_allowed_targets
        )
        self.events.subscribe(self.webhooks.record)
        self._webhook_worker = WebhookWorker(self.webhooks)
        self.email = EmailNotifier.from_settings(settings) if settings.smtp_host else None
        if self.email is not None:
            self.events.subscribe(self.email)

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = load_embedder(self.settings)
        return self._embedder

    def close(self) -> None:
        self.stop_notifiers()
        self.store.close()

    # Indexing -----------------------------------------------------------------------------------------
    def index(
        self,
        *,
        strict: bool = False,
        rebuild: bool = False,
        progress: Progress | None = None,
        source: LoadResult | None = None,
        on_wait: Callable[[], None] | None = None,
    ) -> IndexReport:
        """Index `source`, or the articles folder of the settings when it is not given; `on_wait` is told when
        another build is running and this one waits for it."""
        before = self.store.articles.audiences()
        loaded = (
            source
            if source is not None
            else read_articles(self.settings.articles_dir, strict=strict, max_bytes=self.settings.max_article_bytes)
        )
        report = index_articles(
            loaded,
            self.settings.index_dir,
            self.store,
            self.embedder,
            rebuild=rebuild,
            chunk_words=self.settings.chunk_words,
            chunk_overlap=self.settings.chunk_overlap_words,
            progress=progress,
            on_wait=on_wait,
        )
        self._searcher = None
        build = report.build
        after = self.store.articles.audiences()
        announcements = []
        for action, kind, ids, audiences in (
            ("article.index", "article.indexed", build.embedded, after),
            ("article.remove", "article.removed", build.removed, before),
        ):
            for article_id in ids:
                self.store.audit.add(actor="indexer", action=action, target=article_id, origin="cli")
                # Receivers are not readers: only articles meant for everyone are announced at all.
                if not audiences.get(article_id):
                    announcements.append(Announcement(kind, {"article_id": article_id}))
        self.relay.announce(announcements)
        return report

    def index_status(self) -> IndexStatus:
        """Whether searches are served, from which generation, and whether the live one failed to load."""
        try:
            serving = self.searcher().index.generation
        except IndexNotReady:
            return IndexStatus("unavailable", None, self._unloadable)
        return IndexStatus("degraded" if self._unloadable else "ready", serving, self._unloadable)

    def searcher(self) -> Searcher:
        """The Searcher over the live generation, reloaded when `kb index` has swapped in a new one.

        A live generation that cannot be loaded (damaged files, another model) does not take search down: the
        generation already in memory keeps serving, and the failure is logged once and reported by
        `index_status` until a loadable generation goes live."""
        live = current_generation(self.settings.index_dir)
        if (current := self._searcher_of(live)) is not None:
            return current
        with self._lock:
            # Another request may have loaded the new generation while this one waited for the lock.
            if (current := self._searcher_of(live)) is not None:
                return current
            # A pointer that is missing or names no folder is a fault too: never report "ready" over it.
            live_name = live.name if live else f"{POINTER} (missing, or naming no generation)"
            if self._searcher is not None and live_name == self._unloadable:
                return self._searcher
            try:
                index = load_index(self.settings.index_dir, self.embedder.name, self.embedder.dimension)
            except (IndexMissingError, IndexMismatchError, IndexDamagedError) as exc:
                if live_name != self._unloadable and (live is not None or self._searcher is not None):
                    log.error("cannot load index generation %s: %s (%s)", live_name, exc, exc.__cause__ or "")
                self._unloadable = live_name
                if self._searcher is None:
                    raise IndexNotReady(str(exc)) from exc
                log.warning("still serving index generation %s", self._searcher.index.generation)
                return self._searcher
            self._unloadable = None
            self._searcher = Searcher(
                index,
                self.embedder,
                self.teams.directory,
                answer_threshold=self.settings.answer_threshold,
                default_team=self.settings.default_team,
                max_query_chars=self.settings.max_query_chars,
                retriever=self.settings.retriever,
            )
            log.info("loaded index %s (%d chunks)", index.generation, len(index.rows))
            return self._searcher

    def _searcher_of(self, live: Path | None) -> Searcher | None:
        """The loaded Searcher if it serves the live generation."""
        current = self._searcher
        if current is not None and live is not None and current.index.generation == live.name:
            return current
        return None

    # Search -------------------------------------------------------------------------------------------
    def search(self, query: str, limit: int = 5, *, reader: Principal = EVERYONE, record: bool = True) -> SearchOutcome:
        """Search; with `record` the search log is written before returning (see `record_search`)."""
        if not 1 <= limit <= self.settings.max_results:
            raise InvalidInput(f"`limit` must be between 1 and {self.settings.max_results}", field="limit")
        started = time.perf_counter()
        outcome = self.searcher().search(query, limit, reader)
        if record:
            self.record_search(outcome, (time.perf_counter() - started) * 1000, reader.name)
        return outcome

    def record_search(self, outcome: SearchOutcome, latency_ms: float, user: str | None = None) -> None:
        """Write one search-log row, best effort (kb.best_effort). The API calls it after the response is sent:
        the durable commit costs a disk flush, which the person waiting for answers should not pay."""
        self.best_effort.attempt(
            "search_log",
            lambda: self.store.search_log.add(
                query=outcome.query,
                answered=outcome.answered,
                confidence=outcome.confidence,
                top_ids=[h.article_id for h in outcome.hits],
                latency_ms=latency_ms,
                user=user,
            ),
        )

    def _route(self, text: str) -> str:
        """The team a new ticket goes to. A ticket is accepted whatever state search is in: any failure to
        route sends it to the default team rather than refusing it."""
        try:
            return self.searcher().route(text)
        except Exception as exc:  # see the docstring
            log.warning("routing failed, the ticket goes to %s: %s", self.settings.default_team, exc)
            return self.settings.default_team

    # Articles -----------------------------------------------------------------------------------------
    def article(self, article_id: str, reader: Principal = EVERYONE) -> dict[str, Any]:
        found = self.store.articles.get(article_id)
        # One answer for "missing" and "not yours": the existence of a restricted article is itself private.
        if found is None or found["status"] != "published" or not can_read_article(reader, found["audience"]):
            raise NotFound(f"no article {article_id!r}", field="article_id")
        return {**found, "html": render_html(found["body"])}

    def related_articles(self, article_id: str, limit: int = 5, reader: Principal = EVERYONE) -> list[SearchHit]:
        """Articles like `article_id`; 404 for an article the reader may not read, as for a missing one."""
        if not 1 <= limit <= self.settings.max_results:
            raise InvalidInput(f"`limit` must be between 1 and {self.settings.max_results}", field="limit")
        self.article(article_id, reader)
        return self.searcher().related(article_id, limit, reader)

    def articles(
        self,
        *,
        page: int = 1,
        per_page: int = 20,
        team: str | None = None,
        tag: str | None = None,
        reader: Principal = EVERYONE,
    ) -> ArticlePage:
        """A page of the published articles `reader` may read; the total and the facets count only those."""
        if page < 1:
            raise InvalidInput("`page` must be 1 or more", field="page")
        if not 1 <= per_page <= 100:
            raise InvalidInput("`per_page` must be between 1 and 100", field="per_page")
        readable = [a for a in self.store.articles.published() if can_read_article(reader, a["audience"])]
        matching = [a for a in readable if (team is None or a["team"] == team) and (tag is None or tag in a["tags"])]
        start = (page - 1) * per_page
        return ArticlePage(matching[start : start + per_page], len(matching), facets(readable))

    def record_article_view(self, article_id: str, reader: Principal) -> None:
        self.best_effort.attempt("article_view", lambda: self.surveys.feedback(article_id, reader, "view"))

    def article_feedback(self, article_id: str, helpful: bool, reader: Principal, query: str | None = None) -> None:
        """A helpful / did-not-help vote by someone who may read the article (404 otherwise)."""
        self.article(article_id, reader)
        self.surveys.feedback(article_id, reader, "helpful" if helpful else "not_helpful", query)

    # Tickets ------------------------------------------------------------------------------------------
    def create_ticket(self, new: NewTicket, idempotency_key: str | None = None) -> tuple[dict[str, Any], bool]:
        """(ticket, replayed); the same key from the same requester returns the first ticket."""
        # A due time from the targets as stored, even if another server just edited them; never waiting behind an
        # edit in this process, which may be waiting for the store's write lock.
        self.teams.refresh(wait=False)
        ticket, replayed = self.tickets.create(new, idempotency_key)
        return self.tickets.view(ticket, Principal(name=ticket["requester"]), history=False), replayed

    def ticket(self, ticket_id: int, reader: Principal = EVERYONE) -> dict[str, Any]:
        ticket = self.tickets.readable(ticket_id, reader)
        if reader.role in ("agent", "admin") and reader.name != ticket["requester"]:
            # Best effort: an agent must be able to read the ticket on a full disk (the drop is counted and logged).
            self.best_effort.attempt(
                "audit",
                lambda: self.store.audit.add(
                    actor=reader.name, action="ticket.view", target=str(ticket_id), origin=reader.origin
                ),
            )
        return self.tickets.view(ticket, reader)

    def update_ticket(self, ticket_id: int, change: TicketChange, reader: Principal) -> dict[str, Any]:
        """Apply a PATCH. An agent who transferred the ticket away may no longer read it: they get the result
        without its history rather than a 404 for a change that did happen."""
        updated = self.tickets.update(ticket_id, change, reader)
        if can_read_ticket(reader, updated["requester"], updated["team"]):
            return self.tickets.view(updated, reader)
        return {**self.tickets.view(updated, reader, history=False), "events": []}

    def similar_cases(self, ticket_id: int, reader: Principal, limit: int = 5) -> SimilarCases:
        """Resolved tickets and articles nearest to this ticket, among those `reader` may see."""
        ticket = self.tickets.readable(ticket_id, reader)
        return find_similar(ticket, reader, self.store.tickets, self.searcher(), self.embedder, limit)

    def draft_article(self, ticket_id: int, reader: Principal) -> Draft:
        """Turn a resolved ticket into a draft article file owned by its team, for the publishing flow."""
        ticket = self.tickets.readable(ticket_id, reader)
        if not can_work_ticket(reader, ticket["team"]):
            raise Forbidden("drafting an article from a ticket is for the agents of its team")
        notes = [e["body"] for e in self.store.tickets.events(ticket_id, internal=True) if e["kind"] == "note"]
        draft = write_draft(ticket, notes, self.settings.articles_dir)
        self.store.audit.add(actor=reader.name, action="article.draft", target=draft.article_id, origin=reader.origin)
        self.relay.announce([Announcement("article.drafted", {"article_id": draft.article_id, "team": ticket["team"]})])
        return draft

    def maintain(self) -> dict[str, list[int] | int]:
        """Periodic work: close tickets resolved long enough ago, flag SLA risk once per ticket, and embed newly
        resolved tickets for similar cases."""
        return {
            "closed": self.tickets.close_resolved(self.settings.auto_close_days),
            "at_risk": self.tickets.flag_at_risk(),
            "embedded": embed_resolved_tickets(self.store.tickets, self.embedder),
            "relayed": self.relay.relay_stale(),
        }

    # Metrics ------------------------------------------------------------------------------------------
    def service_metrics(
        self, reader: Principal, team: str | None = None, start: str | None = None, end: str | None = None
    ) -> ServiceMetrics:
        """Service standards metrics over [start, end) (ISO dates or datetimes; default: the last 30 days), for
        the teams `reader` may see (kb.access.can_view_metrics): 403 before anything else for employees."""
        return checked_metrics(
            reader, team, start, end, store=self.store, teams=self.teams.directory, now=datetime.now(UTC)
        )

    # Notifications ------------------------------------------------------------------------------------
    def start_notifiers(self) -> None:
        """Start the webhook delivery thread (it sends what the outbox holds at once) and the e-mail sender."""
        self._webhook_worker.start()
        if self.email is not None:
            self.email.start()

    def stop_notifiers(self) -> None:
        """Stop both threads; undelivered webhook rows stay in the outbox for the next start."""
        self._webhook_worker.stop()
        if self.email is not None:
            self.email.stop()
