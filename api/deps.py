"""Dependencies: app state reached through `Annotated` aliases, never module globals."""

from __future__ import annotations

import asyncio
import contextvars
import dataclasses
import functools
import ipaddress
import re
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Annotated, ParamSpec, TypeVar

from fastapi import Depends, Request

from api.limits import Limits
from kb.access import LOCAL_ADMIN, Principal
from kb.errors import Unauthorized
from kb.search.gate import SearchGate
from kb.service import KnowledgeBase
from kb.settings import Settings


# The dependencies that only read app state are `async def`: FastAPI runs a plain `def` one on a worker thread, a
# thread hop per dependency per request for a dictionary lookup.
async def get_kb(request: Request) -> KnowledgeBase:
    kb: KnowledgeBase = request.app.state.kb
    return kb


async def get_limits(request: Request) -> Limits:
    limits: Limits = request.app.state.limits
    return limits


def get_reader(
    request: Request, kb: Annotated[KnowledgeBase, Depends(get_kb)], limits: Annotated[Limits, Depends(get_limits)]
) -> Principal:
    """Who is asking, and whether they may ask now: the bearer token's user, held to the request limit as that user
    however the token is spelled; in `local` auth, a loopback caller without one is the local admin (see
    `is_local`), so a laptop install works with no users at all. A token attempt first takes from the client
    address's budget of failed authentications, and gets it back if the token is good: past that budget an address
    gets 429, its tokens are not looked up and no more `auth.failed` rows are written for it."""
    header = request.headers.get("authorization", "")
    client = request.client.host if request.client else ""
    if not header:
        limits.admit_anonymous(client)
        if is_local(request, kb.settings):
            return dataclasses.replace(LOCAL_ADMIN, origin=client)
        raise Unauthorized("a bearer token is required: ask an admin to run `kb users add`", field="authorization")
    limits.begin_authentication(client)
    parts = header.split(None, 1)
    if len(parts) != 2 or parts[0].lower() != "bearer" or not parts[1].strip():
        raise Unauthorized("send the token as `Authorization: Bearer <token>`", field="authorization")
    return token_principal(kb, limits, parts[1].strip(), client)


def token_principal(kb: KnowledgeBase, limits: Limits, token: str, client: str) -> Principal:
    """The token's user, once `limits.begin_authentication(client)` let the attempt in: a good token refunds the
    attempt, and the user's request is counted. The API's bearer header and the portal's cookie both end here."""
    principal = kb.users.authenticate(token, origin=client)
    limits.authenticated(client)
    limits.admit_user(principal.name)
    return principal


# A proxy (or a client pretending to be one) adds these: such a request is not the loopback caller it looks like.
FORWARDING_HEADERS = frozenset(
    {"forwarded", "x-real-ip", "x-client-ip", "true-client-ip", "cf-connecting-ip", "x-cluster-client-ip", "via"}
)
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


def is_local(request: Request, settings: Settings) -> bool:
    """In `local` auth, whether a request without a token is the local admin. Decided on what the server knows
    (the peer address) and refused on anything a proxy or a page in a browser could have shaped: the peer is a
    trusted (loopback) client and not a configured proxy, the request carries no forwarding header (a proxy on the
    same host would make every remote user look local), and its Host names the loopback or the very address it
    arrived on (any other name is a DNS-rebinding page; no Host at all is refused too)."""
    client = direct_peer(request, settings)
    if settings.auth != "local" or client is None or client not in settings.trusted_clients:
        return False
    server = request.scope.get("server")
    host = _host_name(request.headers.get("host", ""))
    return bool(host) and host in LOOPBACK_HOSTS | ({str(server[0])} if server else set())


def direct_peer(request: Request, settings: Settings) -> str | None:
    """The peer's address when the request came straight to kb: not from a configured proxy and with no forwarding
    header (behind a proxy on the same host every client would have its address); None otherwise."""
    client = request.client.host if request.client else ""
    if listed(client, settings.forwarded_allow_ips):
        return None
    if any(name in FORWARDING_HEADERS or name.startswith("x-forwarded-") for name in request.headers):
        return None
    return client


# A Host header: a bracketed IPv6 address or a name, then an optional port; anything else names no host to trust.
_HOST = re.compile(r"(?:\[(?P<ipv6>[^\]]*)\]|(?P<name>[^:\[\]]*))(?::[0-9]*)?")


def _host_name(host: str) -> str:
    """`[::1]:8000` → `::1`, `LocalHost.:80` → `localhost`; `` for no Host and for one that is not a host and an
    optional port (`localhost:80@evil.example`, `localhost:evil.example`)."""
    match = _HOST.fullmatch(host.strip().lower())
    if match is None:
        return ""
    return match["ipv6"] if match["ipv6"] is not None else match["name"].rstrip(".")


def listed(address: str, entries: list[str]) -> bool:
    """Whether `address` is one of `entries` (addresses, networks or `*`, as KB_FORWARDED_ALLOW_IPS holds them)."""
    if not entries:
        return False
    if "*" in entries or address in entries:
        return True
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    networks = (ipaddress.ip_network(entry, strict=False) for entry in entries)
    return any(ip.version == network.version and ip in network for network in networks)


P = ParamSpec("P")
T = TypeVar("T")


@dataclasses.dataclass(frozen=True)
class ModelQueue:
    """The model threads and the bounded queue in front of them (kb.search.gate): searches, related articles and
    similar cases all wait for the same threads, so all of them count against the same limit."""

    executor: Executor
    gate: SearchGate

    async def run(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """`fn(*args, **kwargs)` on a model thread, awaited without blocking the event loop; Overloaded (503 with
        Retry-After) at once when the queue is full, rather than a wait behind every queued search."""
        with self.gate.admit():
            # In the request's context, so that what the search logs carries the request's id (kb.logs).
            call = functools.partial(contextvars.copy_context().run, fn, *args, **kwargs)
            return await asyncio.get_running_loop().run_in_executor(self.executor, call)


async def get_model_queue(request: Request) -> ModelQueue:
    return ModelQueue(request.app.state.model_thread, request.app.state.search_gate)


KB = Annotated[KnowledgeBase, Depends(get_kb)]
Reader = Annotated[Principal, Depends(get_reader)]
# Searches run on a few long-lived threads (KB_SEARCH_THREADS, one per core): each encoding uses one core
# (KB_ENCODER_THREADS), and long-lived threads keep their warm per-thread state instead of a fresh pool thread's.
ModelThread = Annotated[ModelQueue, Depends(get_model_queue)]
