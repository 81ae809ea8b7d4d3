"""Request limits. The body size is checked before the app runs (ASGI middleware); the rate limits are applied
once the caller is known, by `api.deps.get_reader`: requests a minute per signed-in user (per client address when
anonymous), and a stricter budget of failed authentications a minute per client address."""

from __future__ import annotations

import ipaddress
import math
import threading
import time
from collections.abc import Callable

from fastapi import FastAPI
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.problems import TooManyRequests, problem
from kb.recent import RecentMap
from kb.settings import Settings

MAX_CALLERS = 10_000  # buckets kept per limiter; beyond it, the least recently used one is dropped


class RateLimiter:
    """A token bucket per caller: `per_minute` requests a minute, with bursts up to that many.

    Memory stays bounded however many callers come: a bucket untouched for a minute has refilled, which is the
    same as having no bucket, so it is dropped; and past `max_callers` buckets the least recently used one is
    dropped too (that caller starts again with a full bucket)."""

    def __init__(
        self, per_minute: int, clock: Callable[[], float] = time.monotonic, max_callers: int = MAX_CALLERS
    ) -> None:
        if per_minute < 1 or max_callers < 1:
            raise ValueError("a rate limiter needs per_minute >= 1 and max_callers >= 1")
        self._rate = per_minute / 60.0
        self._capacity = float(per_minute)
        # An untouched bucket is full again after a minute, the same as having none: the map forgets it then.
        self._buckets: RecentMap[str, float] = RecentMap(self._capacity / self._rate, max_callers)
        self._clock = clock
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._buckets)

    def retry_after(self, caller: str) -> int:
        """0 when the request may go ahead (and is counted), else the seconds to wait."""
        now = self._clock()
        with self._lock:
            tokens = self._tokens(caller, now)
            if tokens >= 1.0:
                self._buckets.put(caller, tokens - 1.0, now)
                return 0
            self._buckets.put(caller, tokens, now)
            return max(1, math.ceil((1.0 - tokens) / self._rate - 1e-9))  # 1e-9: 20.000000001 s is 20 s

    def refund(self, caller: str) -> None:
        """Give back one request counted by `retry_after` (an attempt that turned out not to count)."""
        now = self._clock()
        with self._lock:
            if self._buckets.get(caller, now) is not None:
                self._buckets.put(caller, min(self._capacity, self._tokens(caller, now) + 1.0), now)

    def _tokens(self, caller: str, now: float) -> float:
        tokens, last = self._buckets.get(caller, now) or (self._capacity, now)
        return min(self._capacity, tokens + (now - last) * self._rate)


def address_key(host: str) -> str:
    """The bucket of a client address: the address itself, or its /64 network for IPv6 (one host usually holds a
    whole /64, so counting single IPv6 addresses would let it pick a fresh one for every request)."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host
    if address.version == 6 and not address.is_loopback and address.ipv4_mapped is None:
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


class Limits:
    """The rate limits of one server process, held in app state and consulted by `get_reader` once it knows who
    is asking. Buckets live in memory: each server process counts on its own (`kb serve` runs one)."""

    def __init__(self, settings: Settings, clock: Callable[[], float] = time.monotonic) -> None:
        self._per_minute = settings.rate_limit_per_minute
        # KB_RATE_LIMIT_PER_MINUTE=0 turns every rate limit off, the failed-authentication one included.
        self._failures_per_minute = settings.auth_failures_per_minute if self._per_minute else 0
        self._requests = RateLimiter(self._per_minute, clock) if self._per_minute else None
        self._failures = RateLimiter(self._failures_per_minute, clock) if self._failures_per_minute else None

    def admit_user(self, name: str) -> None:
        """Count one request of a signed-in user, however the token was spelled; TooManyRequests past the limit."""
        self._admit("user:" + name)

    def admit_anonymous(self, host: str) -> None:
        """Count one request without a token (the local admin's, or one about to be refused) per client address."""
        self._admit("addr:" + address_key(host))

    def begin_authentication(self, host: str) -> None:
        """Before a token is looked up: an address that has failed too often gets TooManyRequests instead, so
        nothing is looked up and no `auth.failed` row is written. Counts as a failure until `authenticated`."""
        if self._failures is None:
            return
        wait = self._failures.retry_after(address_key(host))
        if wait:
            raise TooManyRequests(
                wait,
                "Too many failed authentications",
                f"at most {self._failures_per_minute} failed authentications a minute per client address "
                "(KB_AUTH_FAILURES_PER_MINUTE)",
            )

    def authenticated(self, host: str) -> None:
        """The token was good: the attempt counted by `begin_authentication` is not a failure."""
        if self._failures is not None:
            self._failures.refund(address_key(host))

    def _admit(self, caller: str) -> None:
        if self._requests is None:
            return
        wait = self._requests.retry_after(caller)
        if wait:
            raise TooManyRequests(
                wait,
                "Too many requests",
                f"at most {self._per_minute} requests a minute (KB_RATE_LIMIT_PER_MINUTE)",
            )


class LimitsMiddleware:
    """The body size limit, as plain ASGI, before the app: no per-request wrapping of the response stream."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self._app = app
        self._settings = settings

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
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self._settings.max_body_bytes):
            return self._too_large()
        return None


def install_limits(app: FastAPI, settings: Settings) -> None:
    """The body limit as middleware; the rate limits in `app.state.limits`, for `get_reader`. /healthz and
    /readyz ask for no reader, so probes are never limited."""
    app.add_middleware(LimitsMiddleware, settings=settings)
    app.state.limits = Limits(settings)
