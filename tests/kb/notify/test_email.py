"""Ticket e-mails through a real SMTP server (aiosmtpd) on a free localhost port, sent by the real notifier."""

from __future__ import annotations

import email
import logging
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import default
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from indexer.embedders import Embedder
from kb.access import Principal
from kb.events import Event
from kb.notify.email import EmailNotifier, SmtpConfig, compose
from kb.service import KnowledgeBase
from kb.settings import Settings
from kb.tickets import NewTicket, TicketChange

pytestmark = pytest.mark.both_stores

AGENT = Principal(name="ivan", role="agent", teams=frozenset({"IT"}))
TEAM_EMAIL = "it-help@example.com"  # IT's address in the starter teams file


class Inbox:
    """An aiosmtpd handler that keeps what it receives: (envelope recipients, parsed message)."""

    def __init__(self) -> None:
        self.received: list[tuple[list[str], EmailMessage]] = []
        self._lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=default)
        assert isinstance(message, EmailMessage)
        with self._lock:
            self.received.append((list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"

    def wait_for(self, count: int, timeout: float = 15.0) -> list[tuple[list[str], EmailMessage]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.received) >= count:
                    return list(self.received)
            time.sleep(0.05)
        raise AssertionError(f"expected {count} e-mails, got {len(self.received)}")

    def to(self, address: str) -> list[EmailMessage]:
        with self._lock:
            return [message for rcpt, message in self.received if rcpt == [address]]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def start_smtp(inbox: Inbox, port: int) -> Controller:
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    return controller


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox, port = Inbox(), free_port()
    controller = start_smtp(inbox, port)
    yield inbox, port
    controller.stop()


@pytest.fixture
def mail_kb(small_settings: Settings, embedder: Embedder, smtp: tuple[Inbox, int]) -> Iterator[KnowledgeBase]:
    """A KnowledgeBase whose e-mail goes to the `smtp` server, its notifiers started, with a requester `maria`."""
    settings = small_settings.model_copy(
        update={"smtp_host": "127.0.0.1", "smtp_port": smtp[1], "smtp_from": "helpdesk@example.com"}
    )
    kb = KnowledgeBase(settings, embedder=embedder)
    kb.users.add("maria", email="maria@example.com", role="employee")
    kb.start_notifiers()
    yield kb
    kb.close()


def _printer_ticket(kb: KnowledgeBase) -> dict[str, Any]:
    ticket, _ = kb.tickets.create(
        NewTicket(
            subject="Printer offline",
            description="The printer on the 3rd floor says it is offline.",
            requester="maria",
            team="IT",
        )
    )
    return ticket


def _due(ticket: dict[str, Any]) -> str:
    value: datetime = ticket["expected_first_response_by"]
    return value.astimezone(UTC).strftime("%a %d %b %Y, %H:%M UTC")


def test_a_new_ticket_mails_the_requester_and_the_team(mail_kb: KnowledgeBase, smtp: tuple[Inbox, int]) -> None:
    inbox, _ = smtp
    ticket = _printer_ticket(mail_kb)
    inbox.wait_for(2)
    tag = f"[IT #{ticket['id']}]"

    [confirmation] = inbox.to("maria@example.com")
    assert confirmation["Subject"] == f"{tag} Printer offline: we received your request"
    assert confirmation["From"] == "helpdesk@example.com"
    assert confirmation["To"] == "maria@example.com"
    assert confirmation["Auto-Submitted"] == "auto-generated"
    body = confirmation.get_content()
    assert _due(ticket) in body  # the expected first response time
    assert "first response" in body
    assert confirmation.get_content_type() == "text/plain"

    [new_ticket] = inbox.to(TEAM_EMAIL)
    assert new_ticket["Subject"] == f"{tag} New ticket: Printer offline"
    team_body = new_ticket.get_content()
    assert "maria" in team_body
    assert _due(ticket) in team_body
    assert f"/v1/tickets/{ticket['id']}" in team_body


def test_replies_go_to_the_other_side_and_resolution_to_the_requester(
    mail_kb: KnowledgeBase, smtp: tuple[Inbox, int]
) -> None:
    inbox, _ = smtp
    ticket = _printer_ticket(mail_kb)
    inbox.wait_for(2)
    tag = f"[IT #{ticket['id']}]"

    mail_kb.tickets.note(ticket["id"], "Internal: the toner vendor owes us a call.", AGENT)
    mail_kb.tickets.reply(ticket["id"], "Could you try turning it off and on?", AGENT)
    inbox.wait_for(3)
    [agent_reply] = [m for m in inbox.to("maria@example.com") if "replied" in m["Subject"]]
    assert agent_reply["Subject"] == f"{tag} Printer offline: ivan replied"
    assert "Could you try turning it off and on?" in agent_reply.get_content()

    requester = Principal(name="maria")
    mail_kb.tickets.reply(ticket["id"], "Done, it still says offline.", requester)
    inbox.wait_for(4)
    [requester_reply] = [m for m in inbox.to(TEAM_EMAIL) if "replied" in m["Subject"]]
    assert requester_reply["Subject"] == f"{tag} Printer offline: maria replied"
    assert "Done, it still says offline." in requester_reply.get_content()

    mail_kb.tickets.update(ticket["id"], TicketChange(status="resolved", resolution="Replaced the cable."), AGENT)
    inbox.wait_for(5)
    [resolved] = [m for m in inbox.to("maria@example.com") if m["Subject"].endswith("resolved")]
    assert resolved["Subject"] == f"{tag} Printer offline: resolved"

    time.sleep(0.5)  # nothing more is coming: in particular, the internal note was never mailed
    assert len(inbox.received) == 5
    assert not any("toner vendor" in m.get_content() for _, m in inbox.received)


def test_sla_risk_goes_to_the_team_and_subjects_cannot_inject_headers() -> None:
    ticket = {
        "id": 7,
        "url": "/v1/tickets/7",
        "subject": "VPN down\r\nBcc: everyone@example.com",
        "status": "open",
        "priority": "high",
        "team": "IT",
        "requester": "maria",
        "assignee": None,
        "created_at": "2026-12-14T08:00:00+00:00",
        "expected_first_response_by": "2026-12-14T10:00:00+00:00",
    }
    data = {"ticket": ticket, "requester_email": "maria@example.com", "team_email": TEAM_EMAIL}
    [message] = compose(Event("ticket.sla_at_risk", {**data, "sla": {"state": "at_risk"}}), "kb@example.com")
    assert message["To"] == TEAM_EMAIL
    assert message["Subject"] == "[IT #7] SLA at risk: VPN down Bcc: everyone@example.com"
    assert message["Bcc"] is None
    assert "Mon 14 Dec 2026, 10:00 UTC" in message.get_content()
    # Events without a ticket, or without addresses, send nothing.
    assert compose(Event("article.indexed", {"article_id": "x"}), "kb@example.com") == []
    assert compose(Event("ticket.resolved", {**data, "requester_email": None}), "kb@example.com") == []


def test_mail_server_down_at_first_then_up_the_retry_delivers(
    small_settings: Settings, embedder: Embedder, caplog: pytest.LogCaptureFixture
) -> None:
    port = free_port()  # nothing listens there yet
    kb = KnowledgeBase(small_settings, embedder=embedder)
    assert kb.email is None  # no KB_SMTP_HOST: e-mail is off
    notifier = EmailNotifier(SmtpConfig(host="127.0.0.1", port=port), attempts=8, backoff_seconds=0.2)
    kb.events.subscribe(notifier)
    notifier.start()
    inbox = Inbox()
    controller = None
    try:
        kb.users.add("maria", email="maria@example.com", role="employee")
        with caplog.at_level(logging.WARNING, logger="kb.notify.email"):
            started = time.monotonic()
            ticket = _printer_ticket(kb)
            assert time.monotonic() - started < 2  # the request does not wait for the mail server
            deadline = time.monotonic() + 10
            while not any("failed (attempt 1 of 8" in r.getMessage() for r in caplog.records):
                assert time.monotonic() < deadline, "the first attempt never failed"
                time.sleep(0.02)
        assert inbox.received == []
        controller = start_smtp(inbox, port)
        inbox.wait_for(2)
        [confirmation] = inbox.to("maria@example.com")
        assert confirmation["Subject"] == f"[IT #{ticket['id']}] Printer offline: we received your request"
        assert len(inbox.to(TEAM_EMAIL)) == 1
        deadline = time.monotonic() + 5
        while notifier.pending:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        assert len(inbox.received) == 2  # each message once, however many attempts it took
    finally:
        notifier.stop()
        kb.close()
        if controller is not None:
            controller.stop()
