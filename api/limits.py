"""Request limits that apply before any route runs: body size and a per-caller rate limit."""

from __future__ import annotations

import hashlib
import math
import threading
import time
from collections.abc import Callable

from fastapi import FastAPI
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.problems import problem
from kb.settings import Settings


class RateLimiter:
    """A token bucket per caller: `per_minute` requests a minute, with bursts up to that many."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self._rate = per_minute / 60.0
        self._capacity = float(per_minute)
        self._buckets: dict[str, tuple[float, float]] = {}
        self._clock = clock
        self._lock = threading.Lock()

    def retry_after(self, caller: str) -> int:
        """0 when the request may go ahead (and is counted), else the seconds to wait."""
        now = self._clock()
        with self._lock:
            tokens, last = self._buckets.get(caller, (self._capacity, now))
            tokens = min(self._capacity, tokens + (now - last) * self._rate)
            if tokens >= 1.0:
                self._buckets[caller] = (tokens - 1.0, now)
                return 0
            self._buckets[caller] = (tokens, now)
            return max(1, math.ceil((1.0 - tokens) / self._rate))


def _caller(scope: Scope, headers: dict[bytes, bytes]) -> str:
    # Per token when there is one (hashed: the key never holds the secret), else per client address.
    header = headers.get(b"authorization")
    if header:
        return "token:" + hashlib.sha256(header).hexdigest()
    client = scope.get("client")
    return "addr:" + (client[0] if client else "unknown")


class LimitsMiddleware:
    """Body size and rate limit, as plain ASGI: no per-request wrapping of the response stream."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self._app = app
        self._settings = settings
        per_minute = settings.rate_limit_per_minute
        self._limiter = RateLimiter(per_minute) if per_minute else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        rejection = self._reject(scope)
        if rejection is None and b"content-length" not in dict(scope["headers"]):
            receive, rejection = await self._buffer_unsized_body(receive)
        if rejection is not None:
            await rejection(scope, receive, send)
            return
        await self._app(scope, receive, send)

    async def _buffer_unsized_body(self, receive: Receive) -> tuple[Receive, Response | None]:
        """A chunked body has no Content-Length to check up front: read it here, up to the limit, and replay
        it to the app; past the limit, stop reading and answer 413."""
        limit = self._settings.max_body_bytes
        messages: list[Message] = []
        size = 0
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            size += len(message.get("body", b""))
            if size > limit:
                return receive, self._too_large()
            if not message.get("more_body", False):
                break
        replay = iter(messages)

        async def replayed() -> Message:
            return next(replay, None) or await receive()

        return replayed, None

    def _too_large(self) -> Response:
        limit = self._settings.max_body_bytes
        return problem(
            413, "Request body too large", f"the body is limited to {limit} bytes (KB_MAX_BODY_BYTES)", "body"
        )

    def _reject(self, scope: Scope) -> Response | None:
        settings = self._settings
        headers = dict(scope["headers"])
        length = headers.get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > settings.max_body_bytes):
            return self._too_large()
        if self._limiter is not None and scope["path"] not in ("/healthz", "/readyz"):
            wait = self._limiter.retry_after(_caller(scope, headers))
            if wait:
                response = problem(
                    429,
                    "Too many requests",
                    f"at most {settings.rate_limit_per_minute} requests a minute (KB_RATE_LIMIT_PER_MINUTE)",
                )
                response.headers["Retry-After"] = str(wait)
                return response
        return None


def install_limits(app: FastAPI, settings: Settings) -> None:
    app.add_middleware(LimitsMiddleware, settings=settings)
