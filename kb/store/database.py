"""The store: one engine per durability need, the schema brought up to date on open, and the repositories over them."""

from __future__ import annotations

from kb.store import schema
from kb.store.articles import ArticleRepository
from kb.store.audit import AuditRepository
from kb.store.calibrations import CalibrationRepository
from kb.store.change_log import ChangeLogRepository
from kb.store.engine import create_engine
from kb.store.event_log import EventLogRepository
from kb.store.faults import translate_storage_faults
from kb.store.leases import LeaseRepository
from kb.store.migrate import migrate
from kb.store.search_log import SearchLogRepository
from kb.store.surveys import SurveyRepository
from kb.store.tickets import TicketRepository
from kb.store.users import UserRepository


class Store:
    """One engine, its schema created on open, and the repositories over it."""

    def __init__(self, url: str) -> None:
        self.engine = create_engine(url)
        self._log_engine = create_engine(url, flush_every_commit=False)
        for engine in (self.engine, self._log_engine):
            translate_storage_faults(engine)
        migrate(self.engine, schema.metadata)
        self.articles = ArticleRepository(self.engine)
        self.tickets = TicketRepository(self.engine)
        self.surveys = SurveyRepository(self.engine)
        self.event_log = EventLogRepository(self.engine)
        self.change_log = ChangeLogRepository(self.engine)
        self.leases = LeaseRepository(self.engine)
        self.calibrations = CalibrationRepository(self.engine)
        self.search_log = SearchLogRepository(self._log_engine)
        self.users = UserRepository(self.engine)
        self.audit = AuditRepository(self._log_engine)

    def close(self) -> None:
        self.engine.dispose()
        self._log_engine.dispose()
