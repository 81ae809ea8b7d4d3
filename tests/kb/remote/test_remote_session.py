"""`kb remote` against a real uvicorn process started here: a full sync from the bundle, deltas (an edit, a delete,
an audience change), local answers equal to the server's, offline search after the server stops, a sync cut off by
a killed server, and tickets queued offline delivered exactly once, also when the first delivery's answer was lost."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from bench.server import UVICORN_FACTORY, free_port, publish, server_environment, start, stop, wait_ready
from indexer.embedders import Embedder
from kb.errors import RemoteUnavailable
from kb.remote.config import RemoteConfig, save_config
from kb.remote.session import RemoteSession, SyncProgress
from kb.service import KnowledgeBase
from kb.settings import Settings
from tests.conftest import add_desk, bearer
from tests.sockets import FlakyProxy

pytestmark = [pytest.mark.real_model, pytest.mark.slow, pytest.mark.both_stores]

SMALL = {"vpn-drops-on-public-wifi", "printer-offline-floor-printer", "request-annual-leave", "badge-not-opening-doors"}
QUESTIONS = [
    "my vpn keeps dropping on hotel wifi",
    "the printer on my floor says offline",
    "how do I ask for holiday",
    "badge does not open the door",
    "the coffee machine is broken",
]


@dataclass
class Server:
    """A uvicorn process over one data dir, on one port across restarts (the client's saved URL stays valid)."""

    settings: Settings
    log: Path
    port: int
    process: subprocess.Popen[bytes] | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        env = server_environment(
            self.settings.data_dir,
            self.settings.articles_dir,
            {"KB_AUTH": "token", "KB_RATE_LIMIT_PER_MINUTE": "0", "KB_MAINTENANCE_SECONDS": "0"},
        )
        self.process = start(UVICORN_FACTORY, self.port, env, self.log)
        wait_ready(self.base, self.process, self.log, timeout=120)

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait()

    def stop(self) -> None:
        if self.process is not None:
            stop(self.process)


@pytest.fixture
def served(indexed_small_settings: Settings, embedder: Embedder, tmp_path: Path) -> Iterator[tuple[Server, dict]]:
    kb = KnowledgeBase(indexed_small_settings, embedder=embedder)
    tokens = add_desk(kb)
    kb.close()
    server = Server(indexed_small_settings, tmp_path / "server.log", free_port())
    server.start()
    try:
        yield server, tokens
    finally:
        server.stop()


def _session(home: Path, url: str, token: str, embedder: Embedder, page_size: int = 2) -> RemoteSession:
    save_config(home, RemoteConfig(url, token))
    settings = Settings(remote_home=home, remote_timeout_seconds=5)
    return RemoteSession(settings, embedder=embedder, page_size=page_size)


def _publish(base: str, tokens: dict[str, str], slug: str, extra: str = "", body: str = "It hums.") -> None:
    """Write, submit and publish `slug` as the IT agents (an edit when it exists)."""
    markdown = (
        f"---\nid: {slug}\ntitle: Sync gadget {slug}\nteam: IT\n{extra}---\n\n## Symptoms\n\n{body}\n\n"
        "## Resolution\n\nUnplug it and count to ten.\n"
    )
    publish(base, tokens["ivan"], tokens["ines"], slug, markdown)


def _server_search(base: str, token: str, question: str) -> list[tuple[str, float]]:
    body = httpx.get(f"{base}/v1/search", params={"q": question, "limit": 3}, headers=bearer(token), timeout=60).json()
    return [(r["article_id"], r["score"]) for r in body["results"]]


def _ids(session: RemoteSession) -> set[str]:
    return {a.id for a in session.copy.articles()}


def test_sync_deltas_and_offline_search_against_a_real_server(
    served: tuple[Server, dict[str, str]], embedder: Embedder, tmp_path: Path
) -> None:
    server, tokens = served
    ana = _session(tmp_path / "ana", server.base, tokens["ana"], embedder)
    fred = _session(tmp_path / "fred", server.base, tokens["fred"], embedder)
    first = ana.sync()
    assert first.bundle is not None and first.bundle.size > 0
    assert _ids(ana) == SMALL and first.status.cursor is not None
    assert first.applied.index.embedded == []  # the bundle's vectors: nothing embedded on the laptop

    # The copy ranks as the server does, on the same articles.
    served_answers = {q: _server_search(server.base, tokens["ana"], q) for q in QUESTIONS}
    for question, expected in served_answers.items():
        local = ana.copy.search(question, 3)
        assert [(h.article_id, round(h.score, 4)) for h in local.hits] == [(i, round(s, 4)) for i, s in expected], (
            question
        )

    # Repeat reads cost a 304.
    with httpx.Client(base_url=server.base, headers=bearer(tokens["ana"])) as http:
        article = http.get("/v1/articles/vpn-drops-on-public-wifi")
        assert (
            http.get(
                "/v1/articles/vpn-drops-on-public-wifi", headers={"If-None-Match": article.headers["ETag"]}
            ).status_code
            == 304
        )

    # An edit, a delete, an audience change.
    _publish(server.base, tokens, "sync-gadget")
    fred.sync()
    _publish(server.base, tokens, "sync-gadget", body="It hums and smells of ozone.")
    with httpx.Client(base_url=server.base, headers=bearer(tokens["adam"])) as http:
        assert http.delete("/v1/articles/badge-not-opening-doors").status_code == 204
    _publish(server.base, tokens, "finance-gadget")
    fred.sync()
    _publish(server.base, tokens, "finance-gadget", extra="audience: [finance]\n")
    delta = ana.sync()
    assert _ids(ana) == SMALL - {"badge-not-opening-doors"} | {"sync-gadget"}
    assert delta.bundle is None and delta.applied.index.embedded == ["sync-gadget"]
    gadget = next(a for a in ana.copy.articles() if a.id == "sync-gadget")
    assert "ozone" in gadget.markdown
    assert fred.sync().status.articles == len(SMALL) + 1  # fred keeps the finance article, loses the deleted one
    assert "finance-gadget" in _ids(fred) and "badge-not-opening-doors" not in _ids(fred)

    # The server goes away: search answers from the copy, and says so.
    online = ana.search("the gadget smells of ozone")
    assert online.source == "server"
    server.stop()
    offline = ana.search("the gadget smells of ozone")
    assert offline.source == "local" and offline.why_local and offline.status.synced_at is not None
    # (The server's keyword statistics also count the finance article ana may not read: scores differ a little.)
    assert offline.outcome.hits[0].article_id == online.outcome.hits[0].article_id == "sync-gadget"
    ana.close()
    fred.close()


def test_a_sync_cut_off_by_a_killed_server_changes_nothing_and_the_next_one_completes(
    served: tuple[Server, dict[str, str]], embedder: Embedder, tmp_path: Path
) -> None:
    server, tokens = served
    ana = _session(tmp_path / "ana", server.base, tokens["ana"], embedder)
    ana.sync()
    before, status = _ids(ana), ana.copy.status()
    for number in range(5):
        _publish(server.base, tokens, f"batch-{number}")

    def kill_after_the_first_page(pages: int, _: int) -> None:
        if pages == 1:
            server.kill()

    with pytest.raises(RemoteUnavailable):
        ana.sync(SyncProgress(page=kill_after_the_first_page))
    after = ana.copy.status()
    assert _ids(ana) == before and after.cursor == status.cursor and after.synced_at == status.synced_at
    assert after.staged_pages == 1  # kept for the next sync to go on from
    assert ana.copy.search("printer offline", 3).hits  # the copy still answers, as it was

    server.start()
    report = ana.sync()
    assert _ids(ana) == before | {f"batch-{n}" for n in range(5)}
    assert report.status.staged_pages == 0 and report.status.cursor != status.cursor
    ana.close()


def test_tickets_queued_offline_are_delivered_exactly_once_even_when_an_answer_is_lost(
    served: tuple[Server, dict[str, str]], embedder: Embedder, tmp_path: Path
) -> None:
    server, tokens = served
    proxy = FlakyProxy(("127.0.0.1", server.port))
    home = tmp_path / "ana"
    try:
        proxy.mode = "refuse"
        ana = _session(home, proxy.base, tokens["ana"], embedder)
        queued = [
            ana.ticket("Dock does not charge", "The USB-C dock stopped charging my laptop."),
            ana.ticket("Second monitor flickers", "The left monitor flickers every few seconds.", priority="high"),
        ]
        assert all(q.queued_because for q in queued)
        assert [i.state for i in ana.outbox.list()] == ["queued", "queued"]

        proxy.mode = "lose"  # the first ticket reaches the server; its answer never comes back
        with pytest.raises(RemoteUnavailable):
            ana.sync()
        ana.close()
        assert [t["subject"] for t in _tickets(server.base, tokens["ana"])] == ["Dock does not charge"]

        server.kill()  # both ends restart: the outbox is on disk, the server's keys in its store
        server.start()
        proxy.mode = "pass"
        ana = _session(home, proxy.base, tokens["ana"], embedder)
        report = ana.sync()
        assert [i.subject for i in report.flushed.delivered] == ["Dock does not charge", "Second monitor flickers"]
        assert [i.state for i in ana.outbox.list()] == ["delivered", "delivered"]
        ana.close()
    finally:
        proxy.close()
    mine = _tickets(server.base, tokens["ana"])
    assert sorted(t["subject"] for t in mine) == ["Dock does not charge", "Second monitor flickers"]  # each once
    delivered = [i.result["id"] for i in report.flushed.delivered if i.result]
    assert sorted(delivered) == sorted(t["id"] for t in mine)


def _tickets(base: str, token: str) -> list[dict[str, Any]]:
    response = httpx.get(f"{base}/v1/tickets", params={"scope": "mine"}, headers=bearer(token), timeout=30)
    return list(response.json()["items"])
