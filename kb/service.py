"""The KnowledgeBase: one object that the API and the CLI share, built once from the settings."""

from __future__ import annotations

import contextlib

from sqlalchemy.exc import SQLAlchemyError

from indexer.embedders import Embedder
from kb.articles.helpfulness import RankingBoosts
from kb.articles.insights import ArticleInsights
from kb.articles.service import ArticleService
from kb.best_effort import BestEffortWrites
from kb.errors import KbError
from kb.events import EventBus, EventRelay
from kb.follower import ChangeFollower
from kb.indexing import IndexingService
from kb.maintenance import Maintenance
from kb.metrics import MetricsService
from kb.notify.email import EmailNotifier
from kb.notify.sign_in import SignInLinks
from kb.notify.webhooks import WebhookService, WebhookWorker
from kb.publishing import PublishingService
from kb.search.service import SearchService
from kb.settings import Settings
from kb.store import Store
from kb.store.change_log import ChangeWakeups
from kb.store.faults import check_writable
from kb.store.metrics import MetricsRepository
from kb.store.teams import TeamOverrideRepository
from kb.store.webhooks import WebhookRepository
from kb.surveys import SurveyService
from kb.sync import SyncService
from kb.sync.bundle import BundleService
from kb.teams import load_teams
from kb.teams.service import TeamService
from kb.tickets.service import TicketService
from kb.users import UserService


class KnowledgeBase:
    """Builds the services from the settings and holds them: routers and the CLI call `kb.<area>.<verb>`
    (articles, publishing, indexing, search, tickets, teams, users, metrics, webhooks); the rules live in those
    services."""

    def __init__(self, settings: Settings, embedder: Embedder | None = None) -> None:
        self.settings = settings
        check_writable(settings.data_dir)
        self.store = Store(settings.resolved_database_url)
        self.teams = TeamService(
            load_teams(settings.resolved_teams_file), TeamOverrideRepository(self.store.engine), self.store.audit
        )
        self.teams.apply_overrides()  # admins' edits (stored) over the teams file
        self.best_effort = BestEffortWrites()
        self.events = EventBus()
        self.relay = EventRelay(self.store.event_log, self.events, lambda pending: self.tickets.event_data(pending))
        # Readers' votes order near ties in search (kb.articles.helpfulness).
        self.ranking_boosts = RankingBoosts(self.store.surveys.vote_counts)
        self.indexing = IndexingService(
            settings, self.store, self.teams.directory, self.relay, embedder, boosts=self.ranking_boosts
        )
        self.publishing = PublishingService(
            self.store.articles,
            self.teams.directory,
            self.store.audit,
            on_change=self.indexing.refresh,
            similar=lambda text, limit, reader, exclude: self.indexing.searcher().similar_articles(
                text, limit, reader, exclude
            ),
            max_bytes=settings.max_article_bytes,
        )
        # What other servers on the same database publish reaches this one's index (kb.follower).
        self.follower = ChangeFollower(
            self.store.change_log,
            self.store.calibrations,
            self.indexing,
            ChangeWakeups(self.store.engine),
            poll_seconds=settings.follow_seconds,
        )
        self.search = SearchService(settings, self.indexing.searcher, self.store.search_log, self.best_effort)
        self.tickets = TicketService(
            self.store.tickets,
            self.teams.directory,
            self.search.route,
            self.store.users,
            audit=self.store.audit,
            audiences_of=self.store.articles.audiences,
            relay=self.relay.relay,
            announce=self.relay.announce,
            refresh_targets=lambda: self.teams.refresh(wait=False),
            searcher=self.indexing.searcher,
            embedder=lambda: self.indexing.embedder,
            best_effort=self.best_effort,
            draft_article=lambda markdown, author, ticket_id: self.publishing.create(
                markdown, author, ticket_id=ticket_id, comment=f"drafted from ticket {ticket_id}"
            ),
            auto_close_days=settings.auto_close_days,
        )
        self.maintenance = Maintenance(
            self.tickets, self.relay, self.indexing, self.store.leases, every_seconds=settings.maintenance_seconds
        )
        self.users = UserService(self.store.users, self.store.audit, settings.token_days, best_effort=self.best_effort)
        self.surveys = SurveyService(self.store.surveys)
        self.metrics = MetricsService(MetricsRepository(self.store.engine), self.teams.directory)
        self.articles = ArticleService(
            self.store.articles,
            self.surveys.feedback,
            self.search,
            self.best_effort,
            self.publishing.queue,
            on_vote=self.ranking_boosts.expire,
        )
        self.insights = ArticleInsights(
            self.store.articles,
            self.store.surveys,
            self.store.tickets,
            self.store.search_log,
            self.search.route,
            lambda markdown, author, comment: self.publishing.create(markdown, author, comment=comment),
            stale_days=settings.stale_days,
        )
        self.sync = SyncService(self.store.articles)
        self.bundles = BundleService(settings, self.store.articles, self.indexing)
        # Notifications: webhooks always go to the durable outbox (the CLI's events too); e-mail when configured.
        self.webhooks = WebhookService(
            WebhookRepository(self.store.engine), self.store.audit, allowed_targets=settings.webhook_allowed_targets
        )
        self.events.subscribe(self.webhooks.record)
        self._webhook_worker = WebhookWorker(self.webhooks)
        self.email = EmailNotifier.from_settings(settings) if settings.smtp_host else None
        if self.email is not None:
            self.events.subscribe(self.email)
        self.sign_in_links = SignInLinks(settings, self.users, self.email)

    def close(self) -> None:
        self.follower.stop()
        with contextlib.suppress(KbError, SQLAlchemyError):  # a store already gone: the lease expires by itself
            self.maintenance.release()
        self.stop_notifiers()
        self.store.close()

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
