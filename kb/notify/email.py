"""Ticket e-mails, sent over SMTP from a background thread so that no request waits on (or fails with) a mail server.

Who gets what (`compose`, a pure function of the event):
- ticket.created: the requester, a confirmation with the expected first response time; the team, the new ticket.
- ticket.replied: the requester when someone else (an agent) replied; the team when the requester replied.
- ticket.resolved: the requester.
- ticket.sla_at_risk: the team.

E-mail is best effort: messages wait in an in-memory queue (bounded; a full queue drops and logs), each is tried
a few times with exponential backoff, and a failure is logged, never raised. Messages still queued when the server
stops, or failing every attempt, are lost (and logged); webhooks are the durable channel (kb.notify.webhooks).
"""

from __future__ import annotations

import logging
import queue
import smtplib
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any, cast

from pydantic import SecretStr

from kb.events import Event
from kb.notify.worker import BackgroundThread
from kb.settings import Settings
from kb.tickets.payloads import TicketSummary

log = logging.getLogger(__name__)

MAX_SUBJECT = 150


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int = 25
    username: str | None = None
    password: SecretStr | None = None
    starttls: bool = False
    sender: str = "kb@localhost"
    timeout_seconds: float = 10.0

    @classmethod
    def from_settings(cls, settings: Settings) -> SmtpConfig:
        if not settings.smtp_host:
            raise ValueError("smtp_host is not set: e-mail is off")
        return cls(
            host=settings.smtp_host,
            port=settings.smtp_port,
            username=settings.smtp_username,
            password=settings.smtp_password,
            starttls=settings.smtp_starttls,
            sender=settings.smtp_from,
        )


# What to send -------------------------------------------------------------------------------------------------
def format_time(iso: str | None) -> str:
    """An ISO timestamp as people read it, in UTC: "Mon 14 Dec 2026, 09:00 UTC"."""
    if not iso:
        return "unknown"
    return datetime.fromisoformat(iso).astimezone(UTC).strftime("%a %d %b %Y, %H:%M UTC")


def _one_line(text: Any, limit: int = MAX_SUBJECT) -> str:
    """Header-safe: no line breaks (they would let a ticket subject inject headers), bounded length."""
    line = " ".join(str(text or "").split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _summary(ticket: TicketSummary, *names: str) -> str:
    labels = {
        "ticket": ("Ticket", f"#{ticket.get('id')} {_one_line(ticket.get('subject'))}"),
        "requester": ("Requester", ticket.get("requester")),
        "team": ("Team", ticket.get("team")),
        "priority": ("Priority", ticket.get("priority")),
        "status": ("Status", ticket.get("status")),
        "assignee": ("Assignee", ticket.get("assignee") or "nobody yet"),
        "due": ("First response due", format_time(ticket.get("expected_first_response_by"))),
        "url": ("Link", ticket.get("url")),
    }
    rows = [labels[name] for name in names]
    width = max(len(label) for label, _ in rows) + 1
    return "\n".join(f"  {label + ':':<{width}} {value}" for label, value in rows)


def compose(event: Event, sender: str) -> list[EmailMessage]:
    """The e-mails an event calls for (none for events that are not about a ticket, or without an address)."""
    data = event.data
    if not isinstance(data.get("ticket"), dict):
        return []
    ticket = cast(TicketSummary, data["ticket"])  # built by kb.tickets.payloads (read with .get: older rows)
    requester_email, team_email = data.get("requester_email"), data.get("team_email")
    subject = _one_line(ticket.get("subject"))
    tag = f"[{_one_line(ticket.get('team'), 50)} #{ticket.get('id')}]"
    requester, team = ticket.get("requester"), ticket.get("team")
    messages: list[EmailMessage] = []

    def add(to: Any, title: str, body: str) -> None:
        if isinstance(to, str) and "@" in to:
            messages.append(_message(sender, to, f"{tag} {title}", body, ticket))

    if event.kind == "ticket.created":
        due = format_time(ticket.get("expected_first_response_by"))
        add(
            requester_email,
            f"{subject}: we received your request",
            f"Hello {requester},\n\nWe received your request. The {team} team will send you a first response by\n"
            f"{due} (the team's target, counted in its business hours).\n\n"
            f"{_summary(ticket, 'ticket', 'team', 'priority', 'url')}\n\n"
            "You will get an e-mail when the team replies.\n",
        )
        add(
            team_email,
            f"New ticket: {subject}",
            f"A new ticket for {team}.\n\n{_summary(ticket, 'ticket', 'requester', 'priority', 'due', 'url')}\n",
        )
    elif event.kind == "ticket.replied":
        reply = data.get("reply")
        reply = reply if isinstance(reply, dict) else {}
        author, text = _one_line(reply.get("author"), 200), str(reply.get("body") or "")
        if author == requester:
            add(
                team_email,
                f"{subject}: {author} replied",
                f"{author} replied on ticket #{ticket.get('id')}:\n\n{text}\n\n"
                f"{_summary(ticket, 'ticket', 'status', 'priority', 'assignee', 'url')}\n",
            )
        else:
            add(
                requester_email,
                f"{subject}: {author} replied",
                f"Hello {requester},\n\n{author} ({team}) replied to your request:\n\n{text}\n\n"
                f"{_summary(ticket, 'ticket', 'status', 'url')}\n\nReply on the ticket to answer.\n",
            )
    elif event.kind == "ticket.resolved":
        add(
            requester_email,
            f"{subject}: resolved",
            f"Hello {requester},\n\nThe {team} team resolved your request.\n\n{_summary(ticket, 'ticket', 'url')}\n\n"
            "If the problem is not fixed, reply on the ticket to reopen it; otherwise it closes by itself "
            "after a few days.\n",
        )
    elif event.kind == "ticket.sla_at_risk":
        sla = data.get("sla")
        sla = sla if isinstance(sla, dict) else {}
        state = str(sla.get("state") or "at_risk").replace("_", " ")
        add(
            team_email,
            f"SLA {state}: {subject}",
            f"Ticket #{ticket.get('id')} is {state} on its service level.\n\n"
            f"{_summary(ticket, 'ticket', 'requester', 'priority', 'status', 'assignee', 'due', 'url')}\n",
        )
    return messages


def _message(sender: str, to: str, subject: str, body: str, ticket: TicketSummary) -> EmailMessage:
    message = plain_message(sender, to, subject, body)
    message["References"] = f"<ticket-{ticket.get('id')}@{_domain(sender)}>"  # mail clients thread a ticket's
    return message


def plain_message(sender: str, to: str, subject: str, body: str) -> EmailMessage:
    """A text e-mail kb sends on its own (a ticket's, a sign-in link)."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = make_msgid(domain=_domain(sender))
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: auto-responders must not answer
    message.set_content(body)
    return message


def _domain(sender: str) -> str:
    return sender.rpartition("@")[2] or "localhost"


# How it is sent -----------------------------------------------------------------------------------------------
class EmailNotifier:
    """An event-bus subscriber (call it with an Event) and the worker thread that sends what it queues."""

    def __init__(
        self,
        config: SmtpConfig,
        *,
        attempts: int = 5,
        backoff_seconds: float = 2.0,
        max_queue: int = 1000,
    ) -> None:
        self.config = config
        self.attempts = attempts
        self.backoff_seconds = backoff_seconds  # waits 1, 2, 4, ... times this between attempts
        self._queue: queue.Queue[EmailMessage] = queue.Queue(maxsize=max_queue)
        self._thread = BackgroundThread("kb-email", self._run)
        self._stopping = self._thread.stopping

    @classmethod
    def from_settings(cls, settings: Settings) -> EmailNotifier:
        return cls(SmtpConfig.from_settings(settings))

    def __call__(self, event: Event) -> None:
        for message in compose(event, self.config.sender):
            self.enqueue(message)

    def enqueue(self, message: EmailMessage) -> None:
        """Queue a message; never blocks: with the queue full, the message is dropped and logged."""
        try:
            self._queue.put_nowait(message)
        except queue.Full:
            log.error("e-mail queue full: dropped %r to %s", message["Subject"], message["To"])

    @property
    def pending(self) -> int:
        """Messages queued or being sent."""
        return self._queue.unfinished_tasks

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Send what is queued (one attempt each, no more backoff), then end the thread, waiting `timeout` at most."""
        if self._thread.stop(timeout) and self.pending:
            log.warning("stopping with %d e-mail(s) not sent", self.pending)

    def _run(self) -> None:
        while True:
            try:
                message = self._queue.get(timeout=0.2)
            except queue.Empty:
                if self._stopping.is_set():
                    return
                continue
            try:
                self._deliver(message)
            except Exception:  # the thread must outlive any one message
                log.exception("e-mail %r to %s failed", message["Subject"], message["To"])
            finally:
                self._queue.task_done()

    def _deliver(self, message: EmailMessage) -> None:
        error: Exception | None = None
        for attempt in range(1, self.attempts + 1):
            try:
                self._send(message)
            except (OSError, smtplib.SMTPException) as exc:
                error = exc
                if attempt == self.attempts:
                    break
                delay = self.backoff_seconds * 2 ** (attempt - 1)
                log.warning(
                    "e-mail %r to %s failed (attempt %d of %d: %s); retrying in %.1f s",
                    message["Subject"],
                    message["To"],
                    attempt,
                    self.attempts,
                    exc,
                    delay,
                )
                if self._stopping.wait(delay):  # shutting down: no more waiting
                    break
            else:
                log.info("e-mail %r sent to %s", message["Subject"], message["To"])
                return
        log.error("e-mail %r to %s not sent: %s", message["Subject"], message["To"], error)

    def _send(self, message: EmailMessage) -> None:
        config = self.config
        with smtplib.SMTP(config.host, config.port, timeout=config.timeout_seconds) as smtp:
            if config.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if config.username:
                password = config.password.get_secret_value() if config.password is not None else ""
                smtp.login(config.username, password)
            smtp.send_message(message)
