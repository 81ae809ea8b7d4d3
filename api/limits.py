"""Request limits that apply before any route runs: body size and a per-caller rate limit."""

from __future__ import annotations

import hashlib
import math
import threading
import time
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, Response

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


def _caller(request: Request) -> str:
    # Per token when there is one (hashed: the key never holds the secret), else per client address.
    header = request.headers.get("authorization", "")
    if header:
        return "token:" + hashlib.sha256(header.encode("utf-8")).hexdigest()
    return "addr:" + (request.client.host if request.client else "unknown")


def install_limits(app: FastAPI, settings: Settings) -> None:
    limiter = RateLimiter(settings.rate_limit_per_minute) if settings.rate_limit_per_minute else None

    @app.middleware("http")
    async def limits(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        length = request.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > settings.max_body_bytes):
            return problem(
                413,
                "Request body too large",
                f"the body is limited to {settings.max_body_bytes} bytes (KB_MAX_BODY_BYTES)",
                "body",
            )
        if limiter is not None and request.url.path not in ("/healthz", "/readyz"):
            wait = limiter.retry_after(_caller(request))
            if wait:
                response = problem(
                    429,
                    "Too many requests",
                    f"at most {settings.rate_limit_per_minute} requests a minute (KB_RATE_LIMIT_PER_MINUTE)",
                )
                response.headers["Retry-After"] = str(wait)
                return response
        return await call_next(request)
