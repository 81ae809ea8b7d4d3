"""What `kb remote` does, over the signed-in server, the local copy and the outbox: sync, search, file a ticket.

The network is assumed to fail at any moment. A sync first hands the outbox's tickets over (they are the user's
own work), then downloads a bundle if there is no copy yet, then pages through the delta; anything cut off resumes
on the next run. A search asks the server with a short timeout and answers from the copy when it cannot. A ticket
is queued before it is sent, so that it is never lost and never filed twice."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from indexer.build import Progress
from indexer.embedders import Embedder
from kb.errors import InvalidInput, RemoteRefused, RemoteUnavailable
from kb.remote.client import ONCE, Download, RemoteClient, Retry
from kb.remote.config import load_config
from kb.remote.local_copy import Applied, CopyStatus, LocalCopy
from kb.remote.outbox import Flushed, Outbox, OutboxItem
from kb.search.searcher import SearchHit, SearchOutcome
from kb.search.service import check_search
from kb.settings import Settings
from kb.teams import PRIORITIES
from kb.tickets.inputs import check_choice
from kb.tickets.model import MAX_DESCRIPTION, MAX_SUBJECT, MAX_TEAM_NAME

PAGE = 200
BUNDLE = "/v1/export/bundle"
SYNC = "/v1/sync"
SEARCH = "/v1/search"
# A ticket filed at the prompt is tried briefly; the outbox's flush retries longer.
SUBMIT_RETRY = Retry(attempts=2, first_delay=0.5)


@dataclass(frozen=True)
class SyncReport:
    flushed: Flushed
    bundle: Download | None
    pages: int
    applied: Applied
    status: CopyStatus


@dataclass(frozen=True)
class Found:
    source: Literal["server", "local"]
    outcome: SearchOutcome
    status: CopyStatus
    why_local: str | None = None  # what went wrong with the server


@dataclass(frozen=True)
class Submitted:
    item: OutboxItem
    queued_because: str | None = None  # None: the server has it


@dataclass
class SyncProgress:
    """What a sync reports as it goes (the CLI draws it; a library caller may leave it empty)."""

    download: Callable[[int, int], None] | None = None  # bytes done, of total
    page: Callable[[int, int], None] | None = None  # pages done, articles received
    index: Progress | None = None  # articles embedded on this machine


class RemoteSession:
    def __init__(self, settings: Settings, *, embedder: Embedder | None = None, page_size: int = PAGE) -> None:
        """`embedder`: the English model when the caller holds it loaded already (else loaded on first use)."""
        home = settings.resolved_remote_home
        self.config = load_config(home)
        self._timeout = settings.remote_timeout_seconds
        self._page_size = page_size
        self.copy = LocalCopy(home / "copies" / self.config.copy_name, embedder=embedder)
        self.outbox = Outbox(home)

    def close(self) -> None:
        self.copy.close()
        self.outbox.close()

    def __enter__(self) -> RemoteSession:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def client(self, *, timeout: float = 60.0, retry: Retry | None = None) -> RemoteClient:
        return RemoteClient(self.config.url, self.config.token, timeout=timeout, retry=retry)

    # Sync ----------------------------------------------------------------------------------------------------
    def sync(self, progress: SyncProgress | None = None) -> SyncReport:
        progress = progress or SyncProgress()
        with self.client() as client:
            flushed = self.outbox.flush(client)
            try:
                bundle, pages = self._pull(client, progress)
            except RemoteRefused as exc:
                if exc.field != "since":
                    raise
                # The server no longer knows our cursor (its store was replaced): start over from a bundle.
                self.copy.reset()
                bundle, pages = self._pull(client, progress)
        applied = self.copy.apply_staged(progress.index)
        return SyncReport(flushed, bundle, pages, applied, self.copy.status())

    def _pull(self, client: RemoteClient, progress: SyncProgress) -> tuple[Download | None, int]:
        """A bundle when there is no copy yet, then the delta's pages, each staged as it arrives."""
        bundle = None
        if self.copy.resume_cursor() is None:
            target = self.copy.folder / "bundle.tar.gz"
            # A whole archive is there when a run was killed while installing it: no need to fetch it again.
            if not target.exists():
                bundle = client.download(BUNDLE, target, on_progress=progress.download)
            self.copy.install(target, progress.index)
            target.unlink(missing_ok=True)
        pages = received = 0
        since = self.copy.resume_cursor()
        while True:
            page = client.get_json(SYNC, params={"since": since, "limit": self._page_size})
            self.copy.stage(page)
            pages, received = pages + 1, received + len(page["articles"])
            if progress.page is not None:
                progress.page(pages, received)
            since = page["cursor"]
            if not page.get("has_more"):
                return bundle, pages

    # Search --------------------------------------------------------------------------------------------------
    def search(self, query: str, limit: int = 5) -> Found:
        """The server's answers when it answers within the timeout, else the local copy's."""
        check_search(query, limit, self.copy.settings())  # a bad request is refused here, online or not
        try:
            with self.client(timeout=self._timeout, retry=ONCE) as client:
                body = client.get_json(SEARCH, params={"q": query, "limit": limit})
            return Found("server", _outcome(body), self.copy.status())
        except RemoteUnavailable as exc:
            return Found("local", self.copy.search(query, limit), self.copy.status(), exc.detail)

    # Tickets -------------------------------------------------------------------------------------------------
    def ticket(self, subject: str, description: str, *, team: str | None = None, priority: str = "normal") -> Submitted:
        """Queue the ticket, then try to hand it over at once; offline, it waits for `kb remote sync`."""
        payload = ticket_payload(subject, description, team, priority)
        item = self.outbox.queue_ticket(self.config.url, payload)
        try:
            with self.client(timeout=self._timeout) as client:
                return Submitted(self.outbox.deliver(client, item, retry=SUBMIT_RETRY))
        except RemoteUnavailable as exc:
            return Submitted(self.outbox.get(item.key), exc.detail)


def ticket_payload(subject: str, description: str, team: str | None, priority: str) -> dict[str, Any]:
    """The ticket as `POST /v1/tickets` takes it, checked here as the server would, so that a ticket queued offline
    is not refused hours later for a typo."""
    subject, description = subject.strip(), description.strip()
    for name, value, longest in (("subject", subject, MAX_SUBJECT), ("description", description, MAX_DESCRIPTION)):
        if not value:
            raise InvalidInput(f"the {name} is empty", field=name)
        if len(value) > longest:
            raise InvalidInput(f"the {name} is longer than {longest} characters", field=name)
    check_choice("priority", priority, PRIORITIES)
    if team is not None and not 0 < len(team.strip()) <= MAX_TEAM_NAME:
        raise InvalidInput(f"a team name has 1 to {MAX_TEAM_NAME} characters", field="team")
    payload: dict[str, Any] = {"subject": subject, "description": description, "priority": priority}
    if team:
        payload["team"] = team.strip()
    return payload


def _outcome(body: dict[str, Any]) -> SearchOutcome:
    """The server's answer as the local copy gives its own, so that both are shown alike."""
    hits = [
        SearchHit(
            article_id=r["article_id"],
            title=r["title"],
            team=r.get("team"),
            section=r.get("section", ""),
            snippet=r.get("snippet", ""),
            matched_terms=list(r.get("matched_terms") or []),
            score=float(r.get("score", 0.0)),
            language=r.get("language", "en"),
            translation_of=r.get("translation_of"),
        )
        for r in body.get("results", [])
    ]
    return SearchOutcome(
        query=body.get("query", ""),
        answered=bool(body.get("answered")),
        confidence=float(body.get("confidence", 0.0)),
        hits=hits,
        corrected_query=body.get("corrected_query"),
        language=body.get("language", "en"),
    )
