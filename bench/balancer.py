"""A small round-robin HTTP load balancer for the local cluster (bench/cluster.py), for the benchmarks and the
replica tests only: production puts HAProxy, nginx or a cloud balancer in front of `kb serve`.

It does what those do by default and what the fault tests rely on:
  - health checks: `GET /readyz` on every backend every `--check-seconds`; only backends answering 200 get traffic
    (a replica catching up with the change log, or one whose database is down, answers 503 and is skipped);
  - a request that could not be *sent* (connection refused or reset before the request went out: the replica is
    dead) is sent to the next backend, and that backend is marked down until its health check passes again;
  - a request that was sent but got no answer (the replica died with it in flight) is answered 502: it may have
    been carried out, so only the client, with its Idempotency-Key, may send it again.

    .venv/bin/python bench/balancer.py --port 8080 --backend http://127.0.0.1:8001 --backend http://127.0.0.1:8002
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import httpx
import uvicorn

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "upgrade", "te", "trailer", "proxy-connection"}
log = logging.getLogger("balancer")


class Balancer:
    """An ASGI app forwarding every request to the next healthy backend, round robin."""

    def __init__(self, backends: list[str], check_seconds: float = 0.5, timeout: float = 60.0) -> None:
        self.backends = backends
        self.healthy = {backend: False for backend in backends}
        self._turn = itertools.count()
        self._check_seconds = check_seconds
        self._timeout = timeout
        self._client: httpx.AsyncClient | None = None
        self._checker: asyncio.Task[None] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        elif scope["type"] == "http":
            await self._forward(scope, receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                limits = httpx.Limits(max_connections=200, max_keepalive_connections=50)
                self._client = httpx.AsyncClient(timeout=self._timeout, limits=limits)
                await self._check_all()
                self._checker = asyncio.create_task(self._check_forever())
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self._checker is not None:
                    self._checker.cancel()
                if self._client is not None:
                    await self._client.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _check_forever(self) -> None:
        while True:
            await asyncio.sleep(self._check_seconds)
            await self._check_all()

    async def _check_all(self) -> None:
        await asyncio.gather(*(self._check(backend) for backend in self.backends))

    async def _check(self, backend: str) -> None:
        assert self._client is not None
        try:
            response = await self._client.get(f"{backend}/readyz", timeout=2.0)
            up = response.status_code == 200
        except httpx.HTTPError:
            up = False
        if up != self.healthy[backend]:
            log.info("%s is %s", backend, "up" if up else "down")
        self.healthy[backend] = up

    def _order(self) -> list[str]:
        """The healthy backends, starting with the next one's turn (all of them if none is: better a try)."""
        start = next(self._turn)
        ring = [self.backends[(start + i) % len(self.backends)] for i in range(len(self.backends))]
        return [b for b in ring if self.healthy[b]] or ring

    async def _forward(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert self._client is not None
        if scope["path"] == "/_balancer":  # the balancer's own view, for the benchmark and the tests
            await _respond(send, 200, json.dumps({"healthy": self.healthy}).encode(), "application/json")
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        query = scope.get("query_string", b"").decode("latin-1")
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]]
        headers = [(k, v) for k, v in headers if k.lower() not in HOP_BY_HOP | {"host", "x-forwarded-for"}]
        # Who the client is, for the replicas' rate limits and audit (they believe it from this balancer only,
        # KB_FORWARDED_ALLOW_IPS); and a forwarded request is never the local admin nor a trusted scraper.
        client = scope.get("client")
        headers.append(("x-forwarded-for", client[0] if client else "unknown"))
        for backend in self._order():
            url = f"{backend}{scope.get('raw_path', scope['path'].encode()).decode('latin-1')}"
            url += f"?{query}" if query else ""
            try:
                response = await self._client.request(scope["method"], url, headers=headers, content=body)
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:  # never reached it: the next one may
                log.info("%s refused a connection (%s): marked down", backend, exc)
                self.healthy[backend] = False
                continue
            except httpx.HTTPError as exc:  # sent, and no answer: it may have been carried out
                detail = f"the server {backend} stopped answering during the request ({type(exc).__name__})"
                await _problem(send, 502, "Bad gateway", detail)
                return
            out = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in response.headers.items()]
            # httpx has decoded a gzipped body: it goes on as it is now, with its own length.
            dropped = HOP_BY_HOP | {"content-length", "content-encoding"}
            out = [(k, v) for k, v in out if k.decode().lower() not in dropped]
            out.append((b"content-length", str(len(response.content)).encode()))
            await send({"type": "http.response.start", "status": response.status_code, "headers": out})
            await send({"type": "http.response.body", "body": response.content})
            return
        await _problem(send, 503, "No server available", "no kb server accepted the connection")


async def _problem(send: Send, status: int, title: str, detail: str) -> None:
    body = json.dumps({"type": "about:blank", "title": title, "status": status, "detail": detail}).encode()
    await _respond(send, status, body, "application/problem+json")


async def _respond(send: Send, status: int, body: bytes, content_type: str) -> None:
    headers = [(b"content-type", content_type.encode()), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--backend", action="append", required=True, help="a kb server's base URL (repeat)")
    parser.add_argument("--check-seconds", type=float, default=0.5)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="balancer %(message)s")
    app = Balancer(args.backend, args.check_seconds)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", lifespan="on")


if __name__ == "__main__":
    main()
