"""`kb.articles`: reading published articles as a given reader, their related articles, views and votes.

One answer for "missing" and "not yours" everywhere: the existence of a restricted article is itself private."""

from __future__ import annotations

from collections.abc import Callable

from kb.access import EVERYONE, Principal, can_read_article
from kb.articles.listing import ArticlePage, facets
from kb.articles.model import StoredArticle
from kb.best_effort import BestEffortWrites
from kb.errors import InvalidInput, NotFound
from kb.search.searcher import SearchHit
from kb.search.service import SearchService
from kb.store.articles import ArticleRepository

MAX_PER_PAGE = 100

# (article id, reader, kind: view / helpful / not_helpful, the query that led there, a voter's comment) -> stored
RecordFeedback = Callable[[str, Principal, str, str | None, str | None], None]


class ArticleService:
    def __init__(
        self,
        articles: ArticleRepository,
        record_feedback: RecordFeedback,
        search: SearchService,
        best_effort: BestEffortWrites,
        queue: Callable[[str, Principal], list[StoredArticle]],
        on_vote: Callable[[], None] = lambda: None,
    ) -> None:
        self._queue = queue
        self._on_vote = on_vote
        self._articles = articles
        self._record_feedback = record_feedback
        self._search = search
        self._best_effort = best_effort

    def get(self, article_id: str, reader: Principal = EVERYONE) -> StoredArticle:
        """A published article `reader` may read; NotFound otherwise."""
        found = self._articles.get(article_id)
        if found is None or not found.published or not can_read_article(reader, found.audience):
            raise NotFound(f"no article {article_id!r}", field="article_id")
        return found

    def page(
        self,
        *,
        page: int = 1,
        per_page: int = 20,
        team: str | None = None,
        tag: str | None = None,
        reader: Principal = EVERYONE,
        status: str = "published",
    ) -> ArticlePage:
        """A page of the published articles `reader` may read; the total and the facets count only those. Another
        `status` lists the articles in that state of the teams `reader` writes for (agents and admins)."""
        if page < 1:
            raise InvalidInput("`page` must be 1 or more", field="page")
        if not 1 <= per_page <= MAX_PER_PAGE:
            raise InvalidInput(f"`per_page` must be between 1 and {MAX_PER_PAGE}", field="per_page")
        if status == "published":
            readable = [a for a in self._articles.published() if can_read_article(reader, a.audience)]
        else:
            readable = self._queue(status, reader)
        matching = [a for a in readable if (team is None or a.team == team) and (tag is None or tag in a.tags)]
        start = (page - 1) * per_page
        return ArticlePage(matching[start : start + per_page], len(matching), facets(readable))

    def related(self, article_id: str, limit: int = 5, reader: Principal = EVERYONE) -> list[SearchHit]:
        """Articles like `article_id`; NotFound for an article the reader may not read, as for a missing one."""
        self._search.check_limit(limit)
        self.get(article_id, reader)
        return self._search.related(article_id, limit, reader)

    def record_view(self, article_id: str, reader: Principal) -> None:
        """Counted for "top articles", best effort: a full disk must not stop anyone reading."""
        self._best_effort.attempt("article_view", lambda: self._record_feedback(article_id, reader, "view", None, None))

    def feedback(
        self,
        article_id: str,
        helpful: bool,
        reader: Principal,
        query: str | None = None,
        comment: str | None = None,
    ) -> None:
        """A helpful / did-not-help vote by someone who may read the article (NotFound otherwise); it replaces the
        reader's earlier vote on it."""
        self.get(article_id, reader)
        self._record_feedback(article_id, reader, "helpful" if helpful else "not_helpful", query, comment)
        self._on_vote()
