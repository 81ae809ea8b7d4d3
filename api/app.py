"""`create_app(settings)`: the FastAPI application, its state built once in the lifespan."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.staticfiles import StaticFiles

from api.limits import install_limits
from api.observability import install_observability
from api.problems import PROBLEM_RESPONSES, install_problem_handlers
from api.routers import (
    articles,
    export,
    health,
    knowledge,
    metrics,
    publishing,
    search,
    surveys,
    sync,
    teams,
    tickets,
    webhooks,
)
from api.text_input import reject_nul_characters
from api.web import agent, pages, reports
from api.web.pages import STATIC
from api.web.session import load_secret
from indexer.embedders import Embedder
from kb import __version__
from kb.search.gate import SearchGate
from kb.service import KnowledgeBase
from kb.settings import Settings

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None, embedder: Embedder | None = None) -> FastAPI:
    """Build the app; `embedder` lets tests share one loaded model across apps."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        kb = KnowledgeBase(settings, embedder=embedder)
        kb.indexing.embedder  # load the model at start-up, not on the first request  # noqa: B018
        # What the store's change log holds and the index does not (a publish whose index write a crash cut off,
        # what other servers on the same database published) is searchable before the first request; from then on
        # within a second.
        await asyncio.to_thread(kb.follower.start)
        app.state.kb = kb
        app.state.web_secret = load_secret(settings.data_dir)  # the portal's CSRF tokens
        kb.start_notifiers()  # webhook deliveries (and e-mail when configured) in their threads
        # KB_SEARCH_THREADS searches run at once (the encoders release the GIL, and batch queries that meet).
        app.state.model_thread = ThreadPoolExecutor(max_workers=settings.search_threads, thread_name_prefix="kb-model")
        # Those running plus KB_SEARCH_QUEUE waiting: a burst past it is refused at once.
        app.state.search_gate = SearchGate(settings.search_queue + settings.search_threads)
        housekeeping = asyncio.create_task(_maintain(kb)) if settings.maintenance_seconds else None
        try:
            yield
        finally:
            if housekeeping is not None:
                housekeeping.cancel()
            app.state.model_thread.shutdown(wait=True)
            kb.close()  # stops the notifier threads too

    app = FastAPI(
        title="kb",
        version=__version__,
        description="Internal knowledge base: ranked answers with the passage that answers, or a ticket.",
        lifespan=lifespan,
        dependencies=[Depends(reject_nul_characters)],
    )
    install_problem_handlers(app, page_error=pages.error_page)
    # Remote staff on slow links: large bodies (lists, sync pages, articles) travel compressed when asked.
    app.add_middleware(GZipMiddleware, minimum_size=1024)
    install_limits(app, settings)
    install_observability(app)  # request ids, GET /metrics: outermost, so every response is counted and tagged
    for router in (
        health.router,
        search.router,
        articles.router,
        publishing.router,
        knowledge.router,
        sync.router,
        export.router,
        tickets.router,
        surveys.router,
        teams.router,
        webhooks.router,
        metrics.router,
    ):
        app.include_router(router, responses=PROBLEM_RESPONSES)
    # The portal: pages over the same services, and its own scripts and styles (no CDN).
    app.include_router(pages.router)
    app.include_router(agent.router)
    app.include_router(reports.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app


async def _maintain(kb: KnowledgeBase) -> None:
    """The maintenance round (kb.maintenance) now and every `maintenance_seconds`: the shared part (old resolved
    tickets, SLA risk, events a crash left undispatched, the answer calibration measured again once enough articles
    changed) on the one server holding the lease, and on every server its own index brought up to the store."""
    while True:
        try:
            await asyncio.to_thread(kb.maintenance.run_once)
        except Exception:  # keep the loop alive: the next round retries
            log.exception("maintenance failed")
        await asyncio.sleep(kb.settings.maintenance_seconds)


def app_from_environment() -> FastAPI:
    """Factory for `uvicorn --factory` and `kb serve`: settings from KB_* variables."""
    return create_app(Settings())
