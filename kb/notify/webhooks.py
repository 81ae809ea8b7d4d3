"""Webhooks: admins register receivers; every event is written to a durable outbox, then POSTed, signed, by a worker.

- `WebhookService.record` is the event-bus subscriber: one outbox row per matching active webhook, committed
  before it returns. The CLI (`kb index`) records too; the server's worker delivers.
- `WebhookService.deliver_due(now)` sends every row due at `now` once: a 2xx marks it delivered; anything else
  counts an attempt and schedules the next 10 s * 2^(attempts-1) after it ended, at most an hour apart; after 12
  attempts the row is given up (kept, with its last error). Delivery is at least once: a receiver that answered
  too late gets the same `X-KB-Delivery` again and should ignore repeats.
- `WebhookWorker` calls it in a thread: at start (rows left by a restart or an unreachable receiver), as soon as
  new rows are recorded, and every few seconds for the retries.

What a receiver gets follows the access rule for webhooks: ticket events carry the ticket's summary and, for
replies, the public reply (internal notes are never published); article events carry ids only, so a restricted
article's title or text never leaves through a webhook. Signature: `X-KB-Signature: sha256=<hex>`, the
HMAC-SHA256 with the webhook's secret of `f"{X-KB-Timestamp}.{raw body}"`.

Where a webhook may go (`kb.notify.targets`): public addresses only, unless allow-listed; checked at registration
and again at each delivery, which then connects to the very address it checked (the URL's host is kept in the Host
header and for TLS), so a name that resolves elsewhere between the check and the connection cannot redirect it.
Redirects are not followed and no proxy from the environment is used. What a delivery records is its outcome in a
few words ("HTTP 500 Internal Server Error", "timeout", "connection refused", "refused: 127.0.0.1 is a loopback
address"), never the receiver's answer: an admin reads it back, and the body could be anything the URL reached.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import logging
import re
import secrets
import ssl
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx

from kb.access import Principal, can_manage_webhooks
from kb.errors import Forbidden, InvalidInput, NotFound
from kb.events import EVENT_KINDS, Event
from kb.notify.targets import TargetError, TargetPolicy, TargetRefused
from kb.notify.worker import BackgroundThread
from kb.store.audit import AuditRepository
from kb.store.webhooks import OutboxEntry, WebhookRepository

log = logging.getLogger(__name__)

ALL_EVENTS = "*"
MAX_URL = 2000
MIN_SECRET, MAX_SECRET = 16, 200
TIMEOUT_SECONDS = 5.0
MAX_ATTEMPTS = 12
FIRST_RETRY = timedelta(seconds=10)
LONGEST_RETRY = timedelta(hours=1)
LEASE = timedelta(seconds=60)  # a claimed row is due again after this if its sender died mid-send
BATCH = 100
DEFAULT_PORTS = {"http": 80, "https": 443}
# What rows recorded before outcomes were kept short hold after the status: the receiver's answer; never shown.
LEGACY_HTTP_ERROR = re.compile(r"(HTTP \d{3}):.*", re.DOTALL)
# A status line: its reason phrase is the receiver's own text ("HTTP/1.1 500 db_password=..."), so only the code is
# kept, with the standard phrase for it.
HTTP_OUTCOME = re.compile(r"HTTP (\d{3})(?: .*)?", re.DOTALL)
# The keys of ticket event data that receivers get; anything else a future event adds stays inside until chosen.
TICKET_KEYS = ("ticket", "requester_email", "team_email", "reply", "sla")


# Pure parts ---------------------------------------------------------------------------------------------------
def sign(secret: str, timestamp: int, body: bytes) -> str:
    """`sha256=` + hex HMAC-SHA256(secret, f"{timestamp}.{body}"): the X-KB-Signature header."""
    digest = hmac.new(secret.encode("utf-8"), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def retry_delay(attempts: int) -> timedelta:
    """The wait after the `attempts`-th failed attempt: 10 s, 20 s, 40 s, ... at most an hour."""
    doublings = min(max(attempts - 1, 0), 20)  # 10 s * 2^20 is far past the cap already
    return min(FIRST_RETRY * (1 << doublings), LONGEST_RETRY)


def payload_data(event: Event) -> dict[str, Any]:
    """What of an event a receiver may see: ids only for articles, the published ticket summary for tickets."""
    if event.kind.startswith("article."):
        return {k: v for k, v in event.data.items() if k.endswith("_id")}
    return {k: event.data[k] for k in TICKET_KEYS if k in event.data}


def validate_url(url: str) -> str:
    """The URL, stripped, if it is an http or https URL with a host and no credentials (where it goes is checked
    by the target policy)."""
    url = url.strip()
    problem = InvalidInput("`url` must be an http or https URL with a host, like https://example.com/kb", field="url")
    if not url or len(url) > MAX_URL or any(c.isspace() for c in url):
        raise problem
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  # raises ValueError for a port that is not a number in range
        endpoint(url)
    except (ValueError, httpx.InvalidURL) as exc:
        raise problem from exc
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise problem
    if "@" in parts.netloc:
        raise InvalidInput(
            "`url` must not carry credentials (user:password@host): receivers check the X-KB-Signature instead",
            field="url",
        )
    return url


def endpoint(url: str) -> tuple[str, int]:
    """The host (ASCII, as it is sent; an IPv6 address without brackets) and the port a URL connects to."""
    parsed = httpx.URL(url)
    return parsed.raw_host.decode("ascii"), parsed.port or DEFAULT_PORTS.get(parsed.scheme, 443)


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def failure(exc: BaseException) -> str:
    """A failed attempt in a few words: what went wrong, never what the receiver said."""
    if isinstance(exc, httpx.TimeoutException):
        return "timeout"
    if isinstance(exc, httpx.ConnectError):
        cause = _innermost(exc)
        if isinstance(cause, ConnectionRefusedError):
            return "connection refused"
        if isinstance(cause, ssl.SSLCertVerificationError):
            return "TLS certificate not trusted"
        if isinstance(cause, ssl.SSLError):
            return "TLS handshake failed"
        if isinstance(cause, OSError) and cause.strerror:
            return f"connection failed: {cause.strerror}"
        return "connection failed"
    if isinstance(exc, httpx.RemoteProtocolError):
        return "invalid HTTP answer"
    if isinstance(exc, httpx.TransportError):
        return "connection lost"
    return type(exc).__name__


def _innermost(exc: BaseException) -> BaseException:
    for _ in range(10):  # httpx error <- httpcore error <- OSError
        inner = exc.__cause__ or exc.__context__
        if inner is None:
            break
        exc = inner
    return exc


def http_outcome(status: int) -> str:
    """A receiver's answer as it is recorded: the status code and its standard reason phrase, never the receiver's
    own words (its reason phrase is as much the receiver's answer as its body)."""
    return f"HTTP {status} {httpx.codes.get_reason_phrase(status)}".strip()


def shown_error(error: str | None) -> str | None:
    """`last_error` as admins see it: rows written before outcomes were kept short lose the receiver's answer (the
    body after the status, or a reason phrase of its own)."""
    if error is None:
        return None
    legacy = LEGACY_HTTP_ERROR.fullmatch(error)
    if legacy:
        return legacy.group(1)
    status = HTTP_OUTCOME.fullmatch(error)
    return http_outcome(int(status.group(1))) if status else error


def validate_events(events: Sequence[str]) -> list[str]:
    """The subscribed kinds, deduplicated in order; `*` alone stands for every kind."""
    kinds = list(dict.fromkeys(e.strip() for e in events))
    if not kinds:
        raise InvalidInput("`events` must name at least one event kind, or *", field="events")
    for kind in kinds:
        if kind != ALL_EVENTS and kind not in EVENT_KINDS:
            raise InvalidInput(f"unknown event {kind!r}; use {', '.join(EVENT_KINDS)} or *", field="events")
    return [ALL_EVENTS] if ALL_EVENTS in kinds else kinds


def delivery_status(row: dict[str, Any]) -> str:
    if row["delivered_at"] is not None:
        return "delivered"
    return "pending" if row["next_attempt_at"] is not None else "failed"


def _public(webhook: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in webhook.items() if k != "secret"}


@dataclass
class DeliveryReport:
    delivered: int = 0
    failed: int = 0  # attempts that failed (retried later, or given up)
    given_up: int = 0


# The service --------------------------------------------------------------------------------------------------
class WebhookService:
    def __init__(
        self,
        repository: WebhookRepository,
        audit: AuditRepository,
        *,
        allowed_targets: Sequence[str] = (),
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        timeout_seconds: float = TIMEOUT_SECONDS,
    ) -> None:
        """`allowed_targets`: the setting `webhook_allowed_targets` (CIDRs or host names reachable although not
        public); a malformed entry is a ValueError here, at start-up."""
        self._repository = repository
        self._audit = audit
        self._targets = TargetPolicy.parse(allowed_targets)
        self._clock = clock
        self._timeout = timeout_seconds
        self.recorded = threading.Event()  # set when rows are written, to wake the worker

    # Admin ----------------------------------------------------------------------------------------------
    def create(
        self, principal: Principal, *, url: str, events: Sequence[str], secret: str | None = None
    ) -> tuple[dict[str, Any], str]:
        """Register a receiver; returns it and its secret (generated unless given), which is never shown again."""
        self._check(principal)
        url, kinds = validate_url(url), validate_events(events)
        self._check_target(url)
        if secret is None:
            secret = secrets.token_urlsafe(32)
        elif not MIN_SECRET <= len(secret) <= MAX_SECRET or secret != secret.strip():
            raise InvalidInput(
                f"`secret` must be {MIN_SECRET}-{MAX_SECRET} characters without surrounding spaces", field="secret"
            )
        webhook = self._repository.add(
            url=url, secret=secret, events=kinds, created_by=principal.name, now=self._clock()
        )
        self._audit.add(
            actor=principal.name,
            action="webhook.create",
            target=str(webhook["id"]),
            origin=principal.origin,
            url=url,
            events=kinds,
        )
        return _public(webhook), secret

    def registered(self, principal: Principal) -> list[dict[str, Any]]:
        self._check(principal)
        return [_public(w) for w in self._repository.active()]

    def delete(self, principal: Principal, webhook_id: int) -> None:
        """Deactivate the webhook; its undelivered rows are given up."""
        self._check(principal)
        if not self._repository.deactivate(webhook_id, self._clock()):
            raise NotFound(f"no webhook {webhook_id}", field="webhook_id")
        self._audit.add(actor=principal.name, action="webhook.delete", target=str(webhook_id), origin=principal.origin)

    def deliveries(self, principal: Principal, webhook_id: int, limit: int = 50) -> list[dict[str, Any]]:
        """The webhook's recent outbox rows, newest first, each with its `status`."""
        self._check(principal)
        if self._repository.get(webhook_id) is None:
            raise NotFound(f"no webhook {webhook_id}", field="webhook_id")
        return [
            {**row, "last_error": shown_error(row["last_error"]), "status": delivery_status(row)}
            for row in self._repository.outbox(webhook_id, limit)
        ]

    @staticmethod
    def _check(principal: Principal) -> None:
        if not can_manage_webhooks(principal):
            raise Forbidden("webhooks are managed by admins")

    def _check_target(self, url: str) -> None:
        try:
            self._targets.addresses(*endpoint(url))
        except TargetRefused as exc:
            raise InvalidInput(
                f"`url` is refused: {exc}; webhooks go to public addresses only, unless the host or its network is "
                "allow-listed (KB_WEBHOOK_ALLOWED_TARGETS)",
                field="url",
            ) from exc
        except TargetError as exc:
            raise InvalidInput(f"`url` is refused: {exc}", field="url") from exc

    # Outbox ---------------------------------------------------------------------------------------------
    def outbox_depth(self) -> int:
        """Deliveries still to make (due, being sent, or waiting for a retry): GET /metrics reports it."""
        return self._repository.depth()

    def record(self, event: Event) -> None:
        """The bus subscriber: one committed outbox row per active webhook subscribed to the event's kind."""
        targets = [w for w in self._repository.active() if ALL_EVENTS in w["events"] or event.kind in w["events"]]
        if not targets:
            return
        envelope = {"event": event.kind, "event_id": event.id, "at": event.at.isoformat(), "data": payload_data(event)}
        payload = json.dumps(envelope, ensure_ascii=False, default=str)
        self._repository.enqueue([OutboxEntry(w["id"], event.kind, payload) for w in targets], self._clock())
        self.recorded.set()

    def deliver_due(self, now: datetime | None = None, *, stop: threading.Event | None = None) -> DeliveryReport:
        """Send every row due at `now` once (default: the clock's now); stops early when `stop` is set.

        `now` only chooses the rows. Each row reads the clock afresh when it is claimed and signed and when its
        outcome is written: a slow receiver must not age the X-KB-Timestamp of the rows after it past the
        receivers' freshness window, nor leave a lease or a retry time already in the past."""
        due_at = now if now is not None else self._clock()
        report = DeliveryReport()
        seen: set[int] = set()
        rows = self._repository.due(due_at, BATCH)
        if not rows:  # the usual case for a polling worker: no HTTP client to build
            return report
        # A transport of its own: no proxy from the environment (the connection goes to the address checked), and
        # no kept-alive connections (one opened for a name must not carry another name's request to the same IP).
        transport = httpx.HTTPTransport(limits=httpx.Limits(max_keepalive_connections=0))
        with httpx.Client(timeout=self._timeout, follow_redirects=False, transport=transport) as client:
            while rows:
                for row in rows:
                    if stop is not None and stop.is_set():
                        return report
                    seen.add(row["id"])
                    # Another loop may have taken the row since `due` read it; only the winner sends it.
                    claimed_at = self._clock()
                    if self._repository.claim(row["id"], row["next_attempt_at"], claimed_at + LEASE):
                        self._attempt(client, row, claimed_at, report)
                rows = [r for r in self._repository.due(due_at, BATCH) if r["id"] not in seen]
        return report

    def _attempt(self, client: httpx.Client, row: dict[str, Any], claimed_at: datetime, report: DeliveryReport) -> None:
        body = json.dumps({"id": row["id"], **json.loads(row["payload"])}, ensure_ascii=False).encode("utf-8")
        timestamp = int(claimed_at.timestamp())
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "kb-webhooks",
            "X-KB-Event": row["event_kind"],
            "X-KB-Delivery": str(row["id"]),
            "X-KB-Timestamp": str(timestamp),
            "X-KB-Signature": sign(row["secret"], timestamp, body),
        }
        attempts = row["attempts"] + 1
        try:
            error = self._post(client, row["url"], body, headers)
        except TargetRefused as exc:
            error = f"refused: {exc}"
        except TargetError as exc:
            error = str(exc)
        except Exception as exc:  # unreachable, timeout, bad URL: all count as a failed attempt
            error = failure(exc)
        if error is None:
            self._repository.delivered(row["id"], attempts=attempts, now=self._clock())
            report.delivered += 1
            return
        report.failed += 1
        # The wait runs from the end of this attempt (which may have taken up to the timeout), not from the round.
        retry_at = self._clock() + retry_delay(attempts) if attempts < MAX_ATTEMPTS else None
        self._repository.failed(row["id"], attempts=attempts, next_attempt_at=retry_at, error=error[:1000])
        if retry_at is None:
            report.given_up += 1
            log.error(
                "webhook delivery %d to %s given up after %d attempts: %s", row["id"], row["url"], attempts, error
            )
        else:
            log.warning(
                "webhook delivery %d to %s failed (attempt %d): %s; next at %s",
                row["id"],
                row["url"],
                attempts,
                error,
                retry_at.isoformat(),
            )

    def _post(self, client: httpx.Client, url: str, body: bytes, headers: dict[str, str]) -> str | None:
        """POST to an address `url`'s host resolves to, checked here, just before; None for a 2xx answer, else
        its status code (`http_outcome`). The answer's body is never read, nor its reason phrase kept."""
        target = httpx.URL(url)
        if target.userinfo:  # registered before credentials were refused: not sent
            raise TargetRefused("the URL carries credentials")
        host, port = endpoint(url)
        addresses = self._targets.addresses(host, port)
        headers = {**headers, "Host": target.netloc.decode("ascii")}
        extensions = {} if _is_address(host) else {"sni_hostname": host}  # TLS: the name's certificate
        for number, address in enumerate(addresses, start=1):
            try:
                with client.stream(
                    "POST", target.copy_with(host=address), content=body, headers=headers, extensions=extensions
                ) as response:
                    if response.is_success:
                        return None
                    return http_outcome(response.status_code)
            except httpx.ConnectError:
                if number == len(addresses):
                    raise
        raise AssertionError("unreachable: `addresses` is never empty")


class WebhookWorker:
    """The delivery loop in a thread: delivers at start, when rows are recorded, and every `poll_seconds`."""

    def __init__(self, service: WebhookService, *, poll_seconds: float = 5.0) -> None:
        self._service = service
        self._poll_seconds = poll_seconds
        self._thread = BackgroundThread("kb-webhooks", self._run)
        self._stopping = self._thread.stopping

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """End the loop after the delivery in flight (rows not sent stay in the outbox for the next start)."""
        self._thread.stop(timeout, wake=self._service.recorded.set)

    def _run(self) -> None:
        while not self._stopping.is_set():
            self._service.recorded.clear()
            try:
                self._service.deliver_due(stop=self._stopping)
            except Exception:  # keep the loop alive: the rows stay due and the next round retries
                log.exception("webhook delivery round failed")
            self._service.recorded.wait(self._poll_seconds)
