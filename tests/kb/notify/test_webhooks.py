"""Webhooks end to end: real events, the outbox in the real store, deliveries to a real local HTTP receiver.

Retries and backoff are tested without waiting: the service gets a clock the test sets (`Clock`), which it reads
for each row as it claims, signs and records it; `deliver_due(now)` only chooses the rows due at `now`.

Where webhooks may go: the receiver listens on 127.0.0.1, which kb refuses unless allow-listed, so the settings of
this module allow-list it (`LOCAL`), as a deployment with an internal receiver would. Names never reach a real
resolver: `FakeDNS` answers for `kb.notify.targets.resolve` (numeric hosts are read by getaddrinfo, without a
lookup), so no test talks to anything but 127.0.0.1.
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

from indexer.embedders import Embedder
from kb.access import Principal
from kb.errors import Forbidden, InvalidInput
from kb.events import Event
from kb.notify import targets
from kb.notify.webhooks import LEASE, MAX_ATTEMPTS, WebhookService, retry_delay
from kb.service import KnowledgeBase
from kb.settings import Settings
from kb.store.webhooks import WebhookRepository
from kb.tickets import NewTicket, TicketChange

pytestmark = pytest.mark.both_stores

ADMIN = Principal(name="ada", role="admin", origin="test")
AGENT = Principal(name="ivan", role="agent", teams=frozenset({"IT"}))
LOCAL = ["127.0.0.1/32"]  # the local receiver's network, allow-listed in this module's settings
PUBLIC = "93.184.215.14"  # what the fake resolver answers for the example names: public, never connected to
SECRET_ANSWER = "db_password=zanzibarquokka-7781"
REAL_GETADDRINFO = socket.getaddrinfo


def numeric_getaddrinfo(host: Any, port: Any, family: int = 0, type: int = 0, proto: int = 0, flags: int = 0) -> Any:
    """getaddrinfo for numeric hosts only: what connects to 127.0.0.1 works, a name lookup fails here, offline."""
    return REAL_GETADDRINFO(host, port, family, type, proto, flags | socket.AI_NUMERICHOST)


class FakeDNS:
    """Stands in for `kb.notify.targets.resolve`: names from `names`, numeric hosts (127.0.0.1, 2130706433,
    0x7f.1, ::1) read by getaddrinfo without a lookup, anything else unresolvable. Counts the calls per host."""

    def __init__(self) -> None:
        self.names: dict[str, list[str]] = {
            "example.com": [PUBLIC],
            "hooks.example.com": [PUBLIC],
            "x.example.com": [PUBLIC],
            "localhost": ["127.0.0.1", "::1"],
        }
        self.calls: dict[str, int] = {}

    def __call__(self, host: str, port: int) -> list[str]:
        self.calls[host] = self.calls.get(host, 0) + 1
        if host in self.names:
            return list(self.names[host])
        infos = numeric_getaddrinfo(host, port, type=socket.SOCK_STREAM)
        return list(dict.fromkeys(str(info[4][0]) for info in infos))


@pytest.fixture(autouse=True)
def dns(monkeypatch: pytest.MonkeyPatch) -> FakeDNS:
    """The fake resolver for kb's check, and no name lookups at all below it (httpx's included): a delivery that
    tried to resolve a name itself instead of connecting to the checked address would fail, not go out."""
    fake = FakeDNS()
    monkeypatch.setattr(targets, "resolve", fake)
    monkeypatch.setattr(socket, "getaddrinfo", numeric_getaddrinfo)
    return fake


@pytest.fixture
def small_settings(small_settings: Settings) -> Settings:
    """The shared small settings with the local receiver allow-listed."""
    return small_settings.model_copy(update={"webhook_allowed_targets": LOCAL})


class Clock:
    """A clock the test sets: the service reads it for each row (claim, signature, outcome)."""

    def __init__(self, at: datetime | None = None) -> None:
        self.at = at if at is not None else datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.at

    def advance(self, **delta: float) -> datetime:
        self.at += timedelta(**delta)
        return self.at


def _service(kb: KnowledgeBase, clock: Clock | None = None, allowed: list[str] | None = None) -> WebhookService:
    """A delivery service over the KB's store that reads `clock` (default: the real one), with the KB's allow-list
    unless `allowed` is given."""
    return WebhookService(
        WebhookRepository(kb.store.engine),
        kb.store.audit,
        allowed_targets=kb.settings.webhook_allowed_targets if allowed is None else allowed,
        **({"clock": clock} if clock is not None else {}),
    )


class Receiver:
    """A local HTTP server in a thread that records every POST, calls `on_post` (if any), and answers `status`
    (with `reason` as its reason phrase, when given) with `answer` as the body and `headers`."""

    def __init__(
        self,
        port: int = 0,
        status: int = 200,
        on_post: Callable[[], None] | None = None,
        answer: bytes = b"",
        headers: dict[str, str] | None = None,
        reason: str | None = None,
    ) -> None:
        self.requests: list[tuple[Any, bytes]] = []  # (headers, raw body)
        self.status = status
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append((self.headers, body))
                if on_post is not None:
                    on_post()
                try:
                    self.send_response(receiver.status, reason)
                    for name, value in (headers or {}).items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(answer)))
                    self.end_headers()
                    self.wfile.write(answer)
                except (BrokenPipeError, ConnectionResetError):  # the sender gave up waiting (a timeout test)
                    pass

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
    ticket, _ = kb.tickets.create(
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
    indexed_small_kb.indexing.build()  # what `kb index` does: no server, no worker; the outbox keeps the event
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
    assert row["last_error"] == "connection refused"
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
    small_settings: Settings, embedder: Embedder, caplog: pytest.LogCaptureFixture
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
    small_settings: Settings, embedder: Embedder, receiver: Receiver
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
        assert (row["status"], row["next_attempt_at"], row["last_error"]) == (
            "failed",
            None,
            "HTTP 500 Internal Server Error",
        )
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


# Where webhooks may go ----------------------------------------------------------------------------------------
def test_the_allow_list_admits_the_local_receiver_and_only_it(small_kb: KnowledgeBase, receiver: Receiver) -> None:
    with pytest.raises(InvalidInput) as error:
        _service(small_kb, allowed=[]).create(ADMIN, url=receiver.url, events=["*"])  # the default: refused
    assert error.value.field == "url"
    assert "127.0.0.1 is a loopback address" in error.value.detail
    with pytest.raises(InvalidInput) as error:  # outside 127.0.0.1/32
        small_kb.webhooks.create(ADMIN, url=f"http://127.0.0.2:{receiver.port}/hooks/kb", events=["*"])
    assert "127.0.0.2 is a loopback address" in error.value.detail

    small_kb.webhooks.create(ADMIN, url=receiver.url, events=["ticket.created"])
    _ticket(small_kb)
    assert small_kb.webhooks.deliver_due().delivered == 1
    assert len(receiver.requests) == 1


def test_taking_the_receiver_off_the_allow_list_stops_its_deliveries(
    small_kb: KnowledgeBase, receiver: Receiver
) -> None:
    webhook, _ = small_kb.webhooks.create(ADMIN, url=receiver.url, events=["ticket.created"])  # allow-listed
    _ticket(small_kb)
    strict = _service(small_kb, allowed=[])  # the same store, served again without the setting
    report = strict.deliver_due()
    assert (report.delivered, report.failed) == (0, 1)
    assert receiver.requests == []
    [row] = strict.deliveries(ADMIN, webhook["id"])
    assert (row["status"], row["attempts"]) == ("pending", 1)
    assert row["last_error"] == "refused: 127.0.0.1 is a loopback address"


def test_a_name_that_resolves_to_loopback_by_delivery_time_is_refused(
    small_kb: KnowledgeBase, receiver: Receiver, dns: FakeDNS
) -> None:
    """Checked at registration is not enough: the name's address may change (DNS rebinding) before a delivery."""
    strict = _service(small_kb, allowed=[])
    url = f"http://hooks.example.com:{receiver.port}/hooks/kb"
    webhook, _ = strict.create(ADMIN, url=url, events=["ticket.created"])  # public at registration
    dns.names["hooks.example.com"] = ["::ffff:127.0.0.1"]  # then the server itself, spelled as IPv6
    _ticket(small_kb)
    assert strict.deliver_due().failed == 1
    assert receiver.requests == []
    [row] = strict.deliveries(ADMIN, webhook["id"])
    assert row["last_error"] == "refused: ::ffff:127.0.0.1 is a loopback address"

    dns.names["hooks.example.com"] = [PUBLIC, "10.0.0.7"]  # every address counts, not only the first
    strict.deliver_due(datetime.now(UTC) + timedelta(minutes=1))
    [row] = strict.deliveries(ADMIN, webhook["id"])
    assert (row["attempts"], row["last_error"]) == (2, "refused: 10.0.0.7 is a private address")
    assert receiver.requests == []


def test_a_delivery_connects_to_the_address_it_checked_with_the_name_in_the_host_header(
    small_kb: KnowledgeBase, receiver: Receiver, dns: FakeDNS
) -> None:
    """An allow-listed name (`hooks.internal`, known only to the fake resolver): the delivery resolves it once,
    checks the answer and connects to it; nothing below resolves the name again (lookups fail in this module)."""
    dns.names["hooks.internal"] = ["127.0.0.1"]
    by_name = _service(small_kb, allowed=["hooks.internal"])
    url = f"http://hooks.internal:{receiver.port}/hooks/kb"
    with pytest.raises(InvalidInput):
        _service(small_kb, allowed=[]).create(ADMIN, url=url, events=["*"])
    _, secret = by_name.create(ADMIN, url=url, events=["ticket.created"])
    _ticket(small_kb)
    dns.calls.clear()
    assert by_name.deliver_due().delivered == 1
    assert dns.calls == {"hooks.internal": 1}
    [(headers, body)] = receiver.requests
    assert headers["Host"] == f"hooks.internal:{receiver.port}"
    assert verify(secret, headers, body)


def test_redirects_are_not_followed(small_kb: KnowledgeBase, receiver: Receiver) -> None:
    redirecting = Receiver(status=307, headers={"Location": receiver.url})
    try:
        webhook, _ = small_kb.webhooks.create(ADMIN, url=redirecting.url, events=["ticket.created"])
        _ticket(small_kb)
        assert small_kb.webhooks.deliver_due().failed == 1
        assert (len(redirecting.requests), receiver.requests) == (1, [])
        [row] = small_kb.webhooks.deliveries(ADMIN, webhook["id"])
        assert row["last_error"] == "HTTP 307 Temporary Redirect"
    finally:
        redirecting.close()


def _one_failed_delivery(small_kb: KnowledgeBase, receiver: Receiver) -> tuple[dict[str, Any], dict[str, Any]]:
    """A webhook to `receiver`, one ticket event delivered and failed, and that delivery as admins see it."""
    try:
        webhook, _ = small_kb.webhooks.create(ADMIN, url=receiver.url, events=["ticket.created"])
        _ticket(small_kb)
        assert small_kb.webhooks.deliver_due().failed == 1
    finally:
        receiver.close()
    [row] = small_kb.webhooks.deliveries(ADMIN, webhook["id"])
    return webhook, row


def test_the_receivers_answer_is_never_stored_or_shown(small_kb: KnowledgeBase) -> None:
    webhook, row = _one_failed_delivery(small_kb, Receiver(status=500, answer=SECRET_ANSWER.encode()))
    assert row["last_error"] == "HTTP 500 Internal Server Error"
    assert SECRET_ANSWER not in json.dumps(WebhookRepository(small_kb.store.engine).outbox(webhook["id"]), default=str)

    # A row recorded before (the answer after the status) shows the status only.
    WebhookRepository(small_kb.store.engine).failed(
        row["id"], attempts=1, next_attempt_at=None, error=f"HTTP 500: {SECRET_ANSWER}"
    )
    [row] = small_kb.webhooks.deliveries(ADMIN, webhook["id"])
    assert row["last_error"] == "HTTP 500"


@pytest.mark.parametrize(("status", "shown"), [(500, "HTTP 500 Internal Server Error"), (599, "HTTP 599")])
def test_the_receivers_reason_phrase_is_never_stored_or_shown(small_kb: KnowledgeBase, status: int, shown: str) -> None:
    """The reason phrase of the status line is the receiver's text too: `HTTP/1.1 500 db_password=...` would
    otherwise be read back by an admin as `last_error`. Only the code is kept, with its standard phrase."""
    webhook, row = _one_failed_delivery(small_kb, Receiver(status=status, reason=SECRET_ANSWER))
    assert row["last_error"] == shown
    assert SECRET_ANSWER not in json.dumps(WebhookRepository(small_kb.store.engine).outbox(webhook["id"]), default=str)

    # A row recorded with the receiver's reason phrase (by the first build that kept outcomes short) shows the code.
    WebhookRepository(small_kb.store.engine).failed(
        row["id"], attempts=1, next_attempt_at=None, error=f"HTTP {status} {SECRET_ANSWER}"
    )
    [row] = small_kb.webhooks.deliveries(ADMIN, webhook["id"])
    assert row["last_error"] == shown


def test_credentials_in_the_url_are_refused(small_kb: KnowledgeBase, receiver: Receiver) -> None:
    for url in ("https://user:pass@hooks.example.com/kb", "https://token@hooks.example.com/kb"):
        with pytest.raises(InvalidInput) as error:
            small_kb.webhooks.create(ADMIN, url=url, events=["*"])
        assert error.value.field == "url" and "credentials" in error.value.detail

    # A webhook stored before the rule (written to the store directly) is not sent its credentials either.
    legacy = WebhookRepository(small_kb.store.engine).add(
        url=receiver.url.replace("http://", "http://user:pass@"),
        secret="s" * 20,
        events=["ticket.created"],
        created_by="ada",
        now=datetime.now(UTC),
    )
    _ticket(small_kb)
    assert small_kb.webhooks.deliver_due().failed == 1
    assert receiver.requests == []
    [row] = small_kb.webhooks.deliveries(ADMIN, legacy["id"])
    assert row["last_error"] == "refused: the URL carries credentials"


def test_a_receiver_too_slow_to_answer_is_a_timeout(small_kb: KnowledgeBase) -> None:
    receiver = Receiver(on_post=lambda: time.sleep(1.0))
    try:
        webhook, _ = small_kb.webhooks.create(ADMIN, url=receiver.url, events=["ticket.created"])
        _ticket(small_kb)
        impatient = WebhookService(
            WebhookRepository(small_kb.store.engine),
            small_kb.store.audit,
            allowed_targets=LOCAL,
            timeout_seconds=0.2,
        )
        assert impatient.deliver_due().failed == 1
        [row] = small_kb.webhooks.deliveries(ADMIN, webhook["id"])
        assert row["last_error"] == "timeout"
    finally:
        receiver.close()
