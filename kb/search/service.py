"""`kb.search`: what readers and the ticket desk ask of search, with the request's rules applied once.

The Searcher does the retrieval; this service checks the request against the settings' bounds, writes the
search log, and turns any failure to route a new ticket into the default team (a ticket is never refused
because search is down)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from kb.access import EVERYONE, Principal
from kb.best_effort import BestEffortWrites
from kb.errors import InvalidInput
from kb.search.searcher import Searcher, SearchHit, SearchOutcome, clean_query
from kb.settings import Settings
from kb.store.search_log import SearchLogRepository

log = logging.getLogger(__name__)


def check_limit(limit: int, settings: Settings) -> None:
    """`limit` within 1..KB_MAX_RESULTS: the one place that bound is enforced (the API, the CLI, a remote copy)."""
    if not 1 <= limit <= settings.max_results:
        raise InvalidInput(f"`limit` must be between 1 and {settings.max_results}", field="limit")


def check_search(query: str, limit: int, settings: Settings) -> None:
    """A search within the settings' bounds, checked before the index or the model is touched: a bad one costs
    nothing."""
    check_limit(limit, settings)
    clean_query(query, settings.max_query_chars)


class SearchService:
    def __init__(
        self,
        settings: Settings,
        searcher: Callable[[], Searcher],
        search_log: SearchLogRepository,
        best_effort: BestEffortWrites,
    ) -> None:
        self._settings = settings
        self._searcher = searcher
        self._search_log = search_log
        self._best_effort = best_effort

    def check_limit(self, limit: int) -> None:
        check_limit(limit, self._settings)

    def find(self, query: str, limit: int = 5, *, reader: Principal = EVERYONE, record: bool = True) -> SearchOutcome:
        """Search as `reader`; with `record` the search log is written before returning (see `record`)."""
        check_search(query, limit, self._settings)
        started = time.perf_counter()
        outcome = self._searcher().search(query, limit, reader)
        if record:
            self.record(outcome, (time.perf_counter() - started) * 1000, reader.name)
        return outcome

    def record(self, outcome: SearchOutcome, latency_ms: float, user: str | None = None) -> None:
        """Write one search-log row, best effort (kb.best_effort). The API calls it after the response is sent:
        the durable commit costs a disk flush, which the person waiting for answers should not pay."""
        self._best_effort.attempt(
            "search_log",
            lambda: self._search_log.add(
                query=outcome.query,
                answered=outcome.answered,
                confidence=outcome.confidence,
                top_ids=[h.article_id for h in outcome.hits],
                latency_ms=latency_ms,
                user=user,
            ),
        )

    def related(self, article_id: str, limit: int, reader: Principal) -> list[SearchHit]:
        """The articles nearest to `article_id` that `reader` may read (the caller checks they may read it)."""
        return self._searcher().related(article_id, limit, reader)

    def route(self, text: str) -> str:
        """The team a new ticket goes to. A ticket is accepted whatever state search is in: any failure to
        route sends it to the default team rather than refusing it."""
        try:
            return self._searcher().route(text)
        except Exception as exc:  # see the docstring
            log.warning("routing failed, the ticket goes to %s: %s", self._settings.default_team, exc)
            return self._settings.default_team
