"""Typed domain errors. The API maps them to problem JSON in one place; the CLI prints them."""

from __future__ import annotations


class KbError(Exception):
    """Base of every error kb reports to a user rather than crashing on."""

    title = "Error"
    retry_after: int | None = None  # seconds after which the same request may succeed (sent as Retry-After)

    def __init__(self, detail: str, *, field: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.field = field


class InvalidInput(KbError):
    """A request or command argument that cannot be accepted as given."""

    title = "Invalid input"


class NotFound(KbError):
    """The thing asked for does not exist (or the caller may not know that it does)."""

    title = "Not found"


class Unauthorized(KbError):
    """No valid credentials: the token is missing, unknown, revoked or expired."""

    title = "Unauthorized"


class Forbidden(KbError):
    """The caller is known but may not do this (they may see the thing, not change it)."""

    title = "Forbidden"


class Conflict(KbError):
    """The request clashes with the current state: a transition that is not allowed, a survey already
    answered, a ticket changed by someone else meanwhile. (An idempotency key reused for a different request is
    InvalidInput on `Idempotency-Key`, a 422: the request is wrong whatever the state.)"""

    title = "Conflict"


class PreconditionFailed(KbError):
    """A conditional request (`If-Match`) whose condition no longer holds: the thing changed since the caller read
    it. Unlike Conflict, retrying as is cannot help; the caller must read it again and redo the change."""

    title = "Precondition failed"


class PreconditionRequired(KbError):
    """A change that must say which version it builds on (`If-Match`) and did not: without it, it could silently
    overwrite someone else's."""

    title = "Precondition required"


class StorageUnavailable(KbError):
    """The store cannot take a write now (disk full, read-only, locked past the wait). Nothing was half-written;
    the same request can be sent again after `retry_after` seconds."""

    title = "Storage unavailable"
    retry_after = 30


class Overloaded(KbError):
    """More work is waiting than kb takes on at once (searches queued for the model past KB_SEARCH_QUEUE). Nothing
    was done; the same request can be sent again after `retry_after` seconds."""

    title = "Overloaded"

    def __init__(self, detail: str, *, retry_after: int) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class IndexNotReady(KbError):
    """No usable index yet: nothing has been indexed, or the index on disk cannot be used."""

    title = "Index not ready"


class ArticleProblemsError(KbError):
    """Strict indexing found invalid articles."""

    title = "Invalid articles"


class ConfigurationError(KbError):
    """A configuration file (teams, settings) is missing or malformed."""

    title = "Configuration error"


class RemoteUnavailable(KbError):
    """`kb remote`: the server could not be reached, gave no answer in time, went away in the middle of one, or
    failed (5xx), after the retries. What can wait does: a ticket stays in the outbox, search uses the copy."""

    title = "Server unavailable"


class RemoteRefused(KbError):
    """`kb remote`: the server refused the request (4xx); sending it again as it is cannot succeed."""

    title = "Refused by the server"

    def __init__(self, detail: str, *, status: int, field: str | None = None) -> None:
        super().__init__(detail, field=field)
        self.status = status
