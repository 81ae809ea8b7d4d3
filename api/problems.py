"""Every error leaves as `application/problem+json` (RFC 9457) with the offending field named."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from kb.errors import (
    ArticleProblemsError,
    ConfigurationError,
    Conflict,
    Forbidden,
    IndexNotReady,
    InvalidInput,
    KbError,
    NotFound,
    Overloaded,
    PreconditionFailed,
    PreconditionRequired,
    StorageUnavailable,
    Unauthorized,
)
from kb.logs import current_request
from kb.store.faults import as_storage_error

PROBLEM_JSON = "application/problem+json"

# The one place where domain errors become HTTP status codes.
STATUS_BY_ERROR: dict[type[KbError], int] = {
    InvalidInput: 422,
    NotFound: 404,
    Unauthorized: 401,
    Forbidden: 403,
    Conflict: 409,
    PreconditionFailed: 412,
    PreconditionRequired: 428,
    IndexNotReady: 503,
    StorageUnavailable: 503,
    Overloaded: 503,
    ArticleProblemsError: 422,
    ConfigurationError: 500,
}


class Problem(BaseModel):
    """RFC 9457 problem details, as every error of this API is sent."""

    type: str = "about:blank"
    status: int
    title: str
    detail: str
    field: str | None = None


# Documented on every route so clients (and schema checkers) know errors come as problem+json.
PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"description": description, "model": Problem, "content": {PROBLEM_JSON: {}}}
    for status, description in (
        (401, "Missing, unknown, revoked or expired token"),
        (403, "Signed in, but not allowed to do this"),
        (404, "Not found (or not visible to the caller)"),
        (409, "Conflicts with the current state (transition, survey already answered, concurrent edit)"),
        (413, "Request body too large"),
        (422, "Invalid input; `field` names the offending parameter"),
        (429, "Too many requests; see Retry-After"),
        (
            503,
            "Index not ready, storage unavailable (disk full, read-only) or too many searches queued; see Retry-After",
        ),
    )
}


class TooManyRequests(Exception):
    """Over a rate limit (api.limits): answered 429 problem JSON with `Retry-After`."""

    def __init__(self, retry_after: int, title: str, detail: str) -> None:
        super().__init__(detail)
        self.retry_after = retry_after
        self.title = title
        self.detail = detail


def problem(status: int, title: str, detail: str, field: str | None = None, **extra: Any) -> JSONResponse:
    body: dict[str, Any] = {"type": "about:blank", "status": status, "title": title, "detail": detail}
    if field is not None:
        body["field"] = field
    body.update(extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON)


def _field_of(location: Sequence[Any]) -> str:
    # ("query", "q") → "q"; ("body", "priority") → "priority"; ("body",) → "body"
    parts = [str(p) for p in location[1:]] if len(location) > 1 else [str(p) for p in location]
    return ".".join(parts)


def _domain_problem(exc: KbError) -> JSONResponse:
    status = next((s for kind, s in STATUS_BY_ERROR.items() if isinstance(exc, kind)), 400)
    response = problem(status, exc.title, exc.detail, exc.field)
    if status == 401:
        response.headers["WWW-Authenticate"] = "Bearer"
    if exc.retry_after is not None:
        response.headers["Retry-After"] = str(exc.retry_after)
    return response


PageError = Callable[[Request, int, str, str], Response]


def install_problem_handlers(app: FastAPI, page_error: PageError | None = None) -> None:
    """Problem JSON for the API; for the portal's pages (every path outside /v1), `page_error` renders the error."""

    def is_page(request: Request) -> bool:
        return page_error is not None and not request.url.path.startswith(("/v1/", "/healthz", "/readyz", "/metrics"))

    @app.exception_handler(KbError)
    async def domain_error(request: Request, exc: KbError) -> Response:
        if is_page(request) and page_error is not None:
            status = next((s for kind, s in STATUS_BY_ERROR.items() if isinstance(exc, kind)), 400)
            return page_error(request, status, exc.title, exc.detail)
        return _domain_problem(exc)

    @app.exception_handler(TooManyRequests)
    async def too_many(request: Request, exc: TooManyRequests) -> Response:
        if is_page(request) and page_error is not None:
            response = page_error(request, 429, exc.title, exc.detail)
        else:
            response = problem(429, exc.title, exc.detail)
        response.headers["Retry-After"] = str(exc.retry_after)
        return response

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        errors = exc.errors()
        first = errors[0] if errors else {"loc": ("body",), "msg": "invalid request"}
        # A body that is not JSON at all is reported at a character offset; the field at fault is the body.
        field = "body" if first.get("type") == "json_invalid" else _field_of(first["loc"])
        if is_page(request) and page_error is not None:
            return page_error(request, 422, "Invalid input", f"{field}: {first['msg']}")
        return problem(
            422,
            "Invalid input",
            f"{field}: {first['msg']}",
            field,
            errors=[{"field": _field_of(e["loc"]), "message": e["msg"]} for e in errors],
        )

    @app.exception_handler(Exception)
    async def unexpected(_: Request, exc: Exception) -> JSONResponse:
        # Last resort, still problem JSON: a storage fault that escaped translation (the pool's own timeout) is a
        # 503 to retry; anything else is a bug, logged with its traceback by the server.
        if (storage_error := as_storage_error(exc)) is not None:
            return _domain_problem(storage_error)
        response = problem(500, "Internal error", "the server failed to handle this request; it has been logged")
        # Sent from outside the app's middleware (api.observability): the request id, for the log's traceback.
        if (ids := current_request()) is not None:
            response.headers["X-Request-ID"] = ids.request_id
        return response

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        titles = {404: "Not found", 405: "Method not allowed"}
        return problem(exc.status_code, titles.get(exc.status_code, "Error"), str(exc.detail))
