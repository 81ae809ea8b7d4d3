"""Webhooks end to end: real events, the outbox in the real store, deliveries to a real local HTTP receiver.

Retries and backoff are tested without waiting: the service gets a clock the test sets (`Clock`), which it reads
for each row as it claims, signs and records it; `deliver_due(now)` only chooses the rows due at `now`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from indexer.embedders.sentence_transformer import SentenceTransformerEmbedder
from kb.access import Principal
from kb.errors import Forbidden, InvalidInput
from kb.events import Event
from kb.notify.webhooks import LEASE, MAX_ATTEMPTS, WebhookService, retry_delay
from kb.service import KnowledgeBase
from kb.settings import Settings
from kb.store.webhooks import WebhookRepository
from kb.tickets import NewTicket, TicketChange

ADMIN = Principal(name="ada", role="admin", origin="test")
AGENT = Principal(name="ivan", role="agent", teams=frozenset({"IT"}))


class Clock:
    """A clock the test sets: the service reads it for each row (claim, signature, outcome)."""

    def __init__(self, at: datetime | None = None) -> None:
        self.at = at if at is not None else datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.at

    def advance(self, **delta: float) -> datetime:
        self.at += timedelta(**delta)
        return self.at


def _service(kb: KnowledgeBase, clock: Clock) -> WebhookService:
    """A delivery service over the KB's store that reads `clock` (the KB's own reads the real one)."""
    return WebhookService(WebhookRepository(kb.store.engine), kb.store.audit, clock=clock)


class Receiver:
    """A local HTTP server in a thread that records every POST, calls `on_post` (if any), and answers `status`."""

    def __init__(self, port: int = 0, status: int = 200, on_post: Callable[[], None] | None = None) -> None:
        self.requests: list[tuple[Any, bytes]] = []  # (headers, raw body)
        self.status = status
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append((self.headers, body))
                if on_post is not None:
                    on_post()
                self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.port: int = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/hooks/kb"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(body) for _, body in self.requests]

    def wait_for(self, count: int, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while len(self.requests) < count:
            assert time.monotonic() < deadline, f"expected {count} deliveries, got {len(self.requests)}"
            time.sleep(0.02)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def verify(secret: str, headers: Any, body: bytes) -> bool:
    """The README's recipe, verbatim."""
    timestamp = headers["X-KB-Timestamp"]
    expected = "sha256=" + hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    fresh = abs(time.time() - int(timestamp)) < 300
    return fresh and hmac.compare_digest(expected, headers["X-KB-Signature"])


def closed_port() -> int:
    """A port nothing listens on (until a test starts a receiver there)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()


def _ticket(kb: KnowledgeBase, subject: str = "Printer offline") -> dict[str, Any]:
    ticket, _ = kb.create_ticket(
        NewTicket(subject=subject, description="The printer on my floor says offline.", requester="maria", team="IT")
    )
    return ticket


def test_an_event_is_delivered_once_with_a_signature_that_verifies(small_kb: KnowledgeBase, receiver: Receiver) -> None:
    webhook, secret = small_kb.webhooks.create(ADMIN, url=receiver.url, events=["ticket.created"])
    assert "secret" not in webhook and len(secret) >= 32
    ticket = _ticket(small_kb)

    [row] = small_kb.webhooks.deliveries(ADMIN, webhook["id"])  # committed when the ticket was
    assert (row["status"], row["attempts"], row["event_kind"]) == ("pending", 0, "ticket.created")
    assert receiver.requests == []

    now = datetime.now(UTC)
    report = small_kb.webhooks.deliver_due(now)
    after = datetime.now(UTC)
    assert (report.delivered, report.failed) == (1, 0)
    [(headers, body)] = receiver.requests
    assert verify(secret, headers, body)
    assert not verify("another-secret-of-some-length", headers, body)
    assert not verify(secret, headers, body.replace(b"Printer", b"Plotter"))
    assert headers["Content-Type"] == "application/json"
    assert headers["X-KB-Event"] == "ticket.created"
    assert int(now.timestamp()) <= int(headers["X-KB-Timestamp"]) <= int(after.timestamp())  # when it was sent
    payload = json.loads(body)
    assert set(payload) == {"id", "event", "event_id", "at", "data"}
    assert isinstance(payload["event_id"], int)  # the recorded event: the same if it is ever handed over twice
    assert headers["X-KB-Delivery"] == str(payload["id"]) == str(row["id"])
    assert payload["event"] == "ticket.created"
    assert datetime.fromisoformat(payload["at"]) <= now
    assert payload["data"]["ticket"]["id"] == ticket["id"]
    assert payload["data"]["ticket"]["subject"] == "Printer offline"
    assert payload["data"]["team_email"] == "it-help@example.com"

    [row] = small_kb.webhooks.deliveries(ADMIN, webhook["id"])
    assert (row["status"], row["attempts"], row["last_error"]) == ("delivered", 1, None)
    assert small_kb.webhooks.deliver_due(now + timedelta(hours=2)).delivered == 0
    assert len(receiver.requests) == 1


def test_subscriptions_choose_the_events_and_payloads_hold_no_internal_notes_or_article_text(
    small_kb: KnowledgeBase, receiver: Receiver
) -> None:
    everything, _ = small_kb.webhooks.create(ADMIN, url=receiver.url, events=["*"])
    resolved_only, _ = small_kb.webhooks.create(ADMIN, url=receiver.url, events=["ticket.resolved"])
    ticket = _ticket(small_kb)
    small_kb.tickets.note(ticket["id"], "Internal: zanzibarquokka owes us a toner.", AGENT)
    small_kb.tickets.reply(ticket["id"], "We are on it.", AGENT)
    small_kb.tickets.update(ticket["id"], TicketChange(status="resolved", resolution="New toner."), AGENT)
    small_kb.events.publish(
        Event("article.drafted", {"article_id": "printer-toner", "team": "IT", "title": "Restricted title"})
    )

    kinds = [r["event_kind"] for r in reversed(small_kb.webhooks.deliveries(ADMIN, everything["id"]))]
    assert kinds == ["ticket.created", "ticket.replied", "ticket.resolved", "article.drafted"]
    assert [r["event_kind"] for r in small_kb.webhooks.deliveries(ADMIN, resolved_only["id"])] == ["ticket.resolved"]

    small_kb.webhooks.deliver_due()
    assert len(receiver.requests) == 5
    sent = "\n".join(body.decode() for _, body in receiver.requests)
    assert "zanzibarquokka" not in sent  # the internal note never leaves
    [replied] = [b for b in receiver.bodies() if b["event"] == "ticket.replied"]
    assert replied["data"]["reply"] == {"author": "ivan", "body": "We are on it."}
    [drafted] = [b for b in receiver.bodies() if b["event"] == "article.drafted"]
    assert drafted["data"] == {"article_id": "printer-toner"}  # article events carry ids only


def test_indexing_writes_article_events_to_the_outbox(indexed_small_kb: KnowledgeBase) -> None:
    webhook, _ = indexed_small_kb.webhooks.create(ADMIN, url="https://hooks.example.com/kb", events=["article.indexed"])
    article = indexed_small_kb.settings.articles_dir / "printer-offline-floor-printer.md"
    article.write_text(article.read_text(encoding="utf-8") + "\n4. Ask the desk for a loan printer.\n", "utf-8")
    indexed_small_kb.index()  # what `kb index` does: no server, no worker; the outbox keeps the event
    [row] = indexed_small_kb.webhooks.deliveries(ADMIN, webhook["id"])
    assert row["status"] == "pending"
    assert json.loads(row["payload"])["data"] == {"article_id": "printer-offline-floor-printer"}


def test_an_unreachable_receiver_gets_the_event_once_it_is_back(small_kb: KnowledgeBase) -> None:
    port = closed_port()
    webhook, secret = small_kb.webhooks.create(ADMIN, url=f"http://127.0.0.1:{port}/hooks/kb", events=["*"])
    _ticket(small_kb)
    clock = Clock()
    webhooks = _service(small_kb, clock)
    now = clock.at

    report = webhooks.deliver_due()
    assert (report.delivered, report.failed) == (0, 1)
    [row] = small_kb.webhooks.deliveries(ADMIN, webhook["id"])
    assert (row["status"], row["attempts"]) == ("pending", 1)
    assert row["next_attempt_at"] == now + retry_delay(1) > now
    assert "Connect" in row["last_error"]
    clock.advance(seconds=5)
    assert webhooks.deliver_due().failed == 0  # not due yet: not tried

    receiver = Receiver(port)
    try:
        assert webhooks.deliver_due().delivered == 0
        clock.advance(seconds=6)
        assert webhooks.deliver_due().delivered == 1
        clock.advance(hours=3)
        assert webhooks.deliver_due().delivered == 0
        [(headers, body)] = receiver.requests  # delivered exactly once
        assert verify(secret, headers, body)
        [row] = small_kb.webhooks.deliveries(ADMIN, webhook["id"])
        assert (row["status"], row["attempts"]) == ("delivered", 2)
        assert row["last_error"] is None
    finally:
        receiver.close()


def test_pending_rows_survive_a_restart(
    small_settings: Settings, embedder: SentenceTransformerEmbedder, caplog: pytest.LogCaptureFixture
) -> None:
    port = closed_port()
    before = KnowledgeBase(small_settings, embedder=embedder)
    webhook, secret = before.webhooks.create(ADMIN, url=f"http://127.0.0.1:{port}/hooks/kb", events=["*"])
    first, second = _ticket(before, "First"), _ticket(before)
    clock = Clock()
    assert _service(before, clock).deliver_due().failed == 2  # receiver down
    third = _ticket(before, "Third")  # recorded, never tried: the process stops first
    before.close()

    receiver = Receiver(port)
    after = KnowledgeBase(small_settings, embedder=embedder)  # the restart: same data dir, a new process's objects
    try:
        clock.advance(seconds=11)
        assert _service(after, clock).deliver_due().delivered == 3
        delivered = sorted(b["data"]["ticket"]["id"] for b in receiver.bodies())
        assert delivered == sorted([first["id"], second["id"], third["id"]])
        assert all(verify(secret, headers, body) for headers, body in receiver.requests)
        assert {r["status"] for r in after.webhooks.deliveries(ADMIN, webhook["id"])} == {"delivered"}
    finally:
        after.close()
        receiver.close()


def test_the_worker_delivers_what_was_left_at_start_and_new_events_at_once(
    small_settings: Settings, embedder: SentenceTransformerEmbedder, receiver: Receiver
) -> None:
    cli = KnowledgeBase(small_settings, embedder=embedder)  # e.g. `kb index`: records, never delivers
    webhook, _ = cli.webhooks.create(ADMIN, url=receiver.url, events=["ticket.created"])
    _ticket(cli, "Left in the outbox")
    cli.close()
    assert receiver.requests == []

    server = KnowledgeBase(small_settings, embedder=embedder)
    try:
        server.start_notifiers()
        receiver.wait_for(1)
        _ticket(server, "While running")
        receiver.wait_for(2, timeout=3)  # woken by the new row, not the poll interval
        subjects = [b["data"]["ticket"]["subject"] for b in receiver.bodies()]
        assert subjects == ["Left in the outbox", "While running"]
        server.stop_notifiers()
        time.sleep(0.2)
        assert len(receiver.requests) == 2
        assert {r["status"] for r in server.webhooks.deliveries(ADMIN, webhook["id"])} == {"delivered"}
    finally:
        server.close()


def test_a_receiver_that_keeps_failing_is_given_up_with_its_last_error(small_kb: KnowledgeBase) -> None:
    receiver = Receiver(status=500)
    try:
        webhook, _ = small_kb.webhooks.create(ADMIN, url=receiver.url, events=["ticket.created"])
        _ticket(small_kb)
        clock = Clock()
        webhooks = _service(small_kb, clock)
        for attempt in range(1, MAX_ATTEMPTS + 1):
            assert webhooks.deliver_due().failed == 1
            [row] = small_kb.webhooks.deliveries(ADMIN, webhook["id"])
            assert row["attempts"] == attempt
            if attempt < MAX_ATTEMPTS:
                assert row["next_attempt_at"] == clock.at + retry_delay(attempt)
                clock.at = row["next_attempt_at"]
        assert (row["status"], row["next_attempt_at"], row["last_error"]) == ("failed", None, "HTTP 500:")
        assert len(receiver.requests) == MAX_ATTEMPTS
        clock.advance(days=1)
        assert webhooks.deliver_due().failed == 0
    finally:
        receiver.close()
    assert [retry_delay(n).total_seconds() for n in (1, 2, 3, 9, 10, 11)] == [10, 20, 40, 2560, 3600, 3600]


@pytest.mark.parametrize("status", [200, 500])
def test_each_row_reads_the_clock_when_it_is_sent_not_when_the_round_began(
    small_kb: KnowledgeBase, status: int
) -> None:
    """A receiver that takes 200 s per answer: the second row's signature, lease and outcome are from its own
    moment, not the round's start, so its X-KB-Timestamp is fresh, its lease and its retry lie ahead."""
    clock = Clock()
    webhooks = _service(small_kb, clock)
    seen: list[tuple[datetime, datetime]] = []  # (the clock, the row's next_attempt_at) while the receiver works

    def slow_answer() -> None:
        sending = int(receiver.requests[-1][0]["X-KB-Delivery"])
        [row] = [r for r in small_kb.webhooks.deliveries(ADMIN, webhook["id"]) if r["id"] == sending]
        seen.append((clock(), row["next_attempt_at"]))
        clock.advance(seconds=200)

    receiver = Receiver(status=status, on_post=slow_answer)
    try:
        webhook, _ = small_kb.webhooks.create(ADMIN, url=receiver.url, events=["ticket.created"])
        _ticket(small_kb, "First")
        _ticket(small_kb, "Second")
        start = clock.at = datetime.now(UTC)  # the KB recorded the rows by the real clock: both are due now
        report = webhooks.deliver_due()
        assert (report.delivered, report.failed) == ((2, 0) if status == 200 else (0, 2))
        timestamps = [int(headers["X-KB-Timestamp"]) for headers, _ in receiver.requests]
        assert timestamps == [int(start.timestamp()), int(start.timestamp()) + 200]
        assert [lease for _, lease in seen] == [start + LEASE, start + timedelta(seconds=200) + LEASE]
        assert all(lease > at for at, lease in seen)  # each row's lease lies ahead while it is sent

        second, first = small_kb.webhooks.deliveries(ADMIN, webhook["id"])
        if status == 200:
            assert first["delivered_at"] == start + timedelta(seconds=200)
            assert second["delivered_at"] == start + timedelta(seconds=400)
        else:
            assert first["next_attempt_at"] == start + timedelta(seconds=200) + retry_delay(1)
            assert second["next_attempt_at"] == start + timedelta(seconds=400) + retry_delay(1) > clock.at
    finally:
        receiver.close()


def test_deleting_a_webhook_stops_its_deliveries(small_kb: KnowledgeBase, receiver: Receiver) -> None:
    webhook, _ = small_kb.webhooks.create(ADMIN, url=receiver.url, events=["ticket.created"])
    _ticket(small_kb)
    small_kb.webhooks.delete(ADMIN, webhook["id"])
    _ticket(small_kb)  # no active webhook: nothing recorded
    assert small_kb.webhooks.deliver_due().delivered == 0
    assert receiver.requests == []
    assert small_kb.webhooks.registered(ADMIN) == []
    actions = [(a["action"], a["target"]) for a in small_kb.store.audit.recent() if a["action"].startswith("webhook")]
    assert actions == [("webhook.delete", str(webhook["id"])), ("webhook.create", str(webhook["id"]))]


def test_only_admins_manage_webhooks_and_input_is_checked(small_kb: KnowledgeBase) -> None:
    for principal in (Principal(name="erik"), AGENT):
        with pytest.raises(Forbidden):
            small_kb.webhooks.create(principal, url="https://example.com/kb", events=["*"])
        with pytest.raises(Forbidden):
            small_kb.webhooks.registered(principal)
    for url in ("ftp://example.com/kb", "example.com/kb", "http://", "https://exa mple.com", "http://h:99999/"):
        with pytest.raises(InvalidInput) as error:
            small_kb.webhooks.create(ADMIN, url=url, events=["*"])
        assert error.value.field == "url"
    for events in ([], ["ticket.exploded"], ["ticket.created", "tickets.*"]):
        with pytest.raises(InvalidInput) as error:
            small_kb.webhooks.create(ADMIN, url="https://example.com/kb", events=events)
        assert error.value.field == "events"
    webhook, secret = small_kb.webhooks.create(
        ADMIN, url="https://example.com/kb", events=["ticket.created", "*"], secret="s" * 20
    )
    assert (webhook["events"], secret) == (["*"], "s" * 20)
