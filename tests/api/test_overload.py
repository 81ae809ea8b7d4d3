"""Limits under load (issue 17, part 5): the search queue is bounded (503 with Retry-After past it), and `kb serve`'s
HTTP protocol closes connections that send nothing or send their headers too slowly."""

from __future__ import annotations

import functools
import socket
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import pytest
import uvicorn
from fastapi.testclient import TestClient

from api.app import create_app
from api.connections import HeaderDeadlineProtocol
from indexer.embedders import Embedder, ProgressCallback, Vectors
from kb.errors import Overloaded
from kb.search.gate import SearchGate
from kb.settings import Settings

# --- The search queue --------------------------------------------------------------------------------------
from tests.fakes import Wrapped
from tests.sockets import seconds_until_closed


class HeldEmbedder(Wrapped):
    """The real model, except that while `held`, each encode waits until `release` (a search stuck on the model)."""

    def __init__(self, inner: Embedder) -> None:
        super().__init__(inner)
        self.entered = threading.Event()
        self.release = threading.Event()
        self.release.set()

    def hold(self) -> None:
        self.entered.clear()
        self.release.clear()

    def encode(self, texts: Sequence[str], progress: ProgressCallback | None = None) -> Vectors:
        self.entered.set()
        assert self.release.wait(30), "never released"
        return super().encode(texts, progress)


def test_the_gate_admits_its_capacity_then_refuses_with_a_retry_after() -> None:
    now = [0.0]
    gate = SearchGate(2, clock=lambda: now[0])
    with gate.admit(), gate.admit():
        assert gate.admitted == 2
        with pytest.raises(Overloaded) as refused, gate.admit():
            pass
        assert refused.value.retry_after == 1  # no search timed yet: the least there is
        assert gate.admitted == 2  # a refusal takes no place
        now[0] += 12.0  # two searches of 12 s each
    assert gate.admitted == 0
    with gate.admit():  # a place is free again
        pass
    assert gate.retry_after >= 3  # the recent mean search time, rounded up to seconds


def _search_in_thread(client: TestClient, query: str, results: dict[str, Any]) -> threading.Thread:
    thread = threading.Thread(target=lambda: results.update({query: client.get("/v1/search", params={"q": query})}))
    thread.start()
    return thread


def _wait_for(condition: Any, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return False


def test_a_search_past_the_queue_is_refused_at_once_and_the_queued_ones_complete(
    indexed_small_settings: Settings, embedder: Embedder
) -> None:
    """KB_SEARCH_THREADS=1, KB_SEARCH_QUEUE=1: one search on the model, one waiting; a third is answered 503 with
    Retry-After at once instead of waiting behind them (before, it waited as long as the model was busy), and the
    two complete."""
    held = HeldEmbedder(embedder)
    settings = indexed_small_settings.model_copy(update={"search_queue": 1, "search_threads": 1})
    app = create_app(settings, embedder=held)
    results: dict[str, Any] = {}
    with TestClient(app) as client:
        assert client.get("/v1/search", params={"q": "printer offline"}).status_code == 200  # the gate exists now
        held.hold()
        threads = [_search_in_thread(client, "my vpn keeps dropping on hotel wifi", results)]
        try:
            assert held.entered.wait(10), "the first search never reached the model"
            threads.append(_search_in_thread(client, "my badge does not open the door", results))
            assert _wait_for(lambda: app.state.search_gate.admitted == 2, 10), "the second search was not queued"

            refused_thread = _search_in_thread(client, "how do I request annual leave", results)
            refused_thread.join(timeout=10)  # while the model is still held
            assert not refused_thread.is_alive(), "the search past the queue waited instead of being refused"
        finally:
            held.release.set()
            for thread in threads:
                thread.join(timeout=30)

    refused = results["how do I request annual leave"]
    assert refused.status_code == 503
    assert refused.headers["content-type"] == "application/problem+json"
    assert int(refused.headers["retry-after"]) >= 1
    body = refused.json()
    assert body["status"] == 503
    assert body["title"] == "Overloaded"
    assert "2 searches" in body["detail"]
    for query in ("my vpn keeps dropping on hotel wifi", "my badge does not open the door"):
        assert results[query].status_code == 200, results[query].text
    assert (
        results["my vpn keeps dropping on hotel wifi"].json()["results"][0]["article_id"] == "vpn-drops-on-public-wifi"
    )


# --- Connections -------------------------------------------------------------------------------------------


async def _slow_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Answers `ok` after `?sleep` seconds: a request whose headers came in time may take longer than the deadline."""
    if scope["type"] != "http":
        return
    query = scope["query_string"].decode()
    if query.startswith("sleep="):
        import asyncio

        await asyncio.sleep(float(query.removeprefix("sleep=")))
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
    await send({"type": "http.response.body", "body": b"ok"})


@contextmanager
def _server(keep_alive: int, header_timeout: float) -> Iterator[int]:
    config = uvicorn.Config(
        _slow_app,
        host="127.0.0.1",
        port=0,
        http=functools.partial(HeaderDeadlineProtocol, header_timeout=header_timeout),  # type: ignore[arg-type]
        timeout_keep_alive=keep_alive,
        lifespan="off",
        log_level="warning",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        assert _wait_for(lambda: server.started, 10), "uvicorn did not start"
        yield server.servers[0].sockets[0].getsockname()[1]
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def _trickle(sock: socket.socket, data: bytes, every: float) -> float | None:
    """Send `data` a byte every `every` seconds; the seconds until the server closed the connection, or None."""
    started = time.monotonic()
    for byte in data:
        try:
            sock.sendall(bytes([byte]))
        except OSError:
            return time.monotonic() - started
        time.sleep(every)
    return seconds_until_closed(sock, 5)


def _response(sock: socket.socket, request: bytes) -> bytes:
    sock.sendall(request)
    sock.settimeout(10)
    data = b""
    while not data.endswith(b"ok"):
        chunk = sock.recv(4096)
        assert chunk, f"closed before the response ended: {data!r}"
        data += chunk
    return data


GET = b"GET / HTTP/1.1\r\nHost: kb\r\n\r\n"


@pytest.mark.slow
def test_connections_that_send_nothing_or_trickle_headers_are_closed() -> None:
    """Before, uvicorn held all three for ever: it times only the gap after a response, and any byte resets it."""
    with _server(keep_alive=1, header_timeout=1.5) as port:
        address = ("127.0.0.1", port)
        with socket.create_connection(address) as idle:
            waited = seconds_until_closed(idle, 5)
            assert waited is not None and waited < 1 + 2, waited  # the keep-alive timer, before any request
        with socket.create_connection(address) as slow:
            waited = _trickle(slow, b"GET / HTTP/1.1\r\nHost: kb\r\nX-Slow: " + b"x" * 40, every=0.1)
            assert waited is not None and 0.5 < waited < 1.5 + 2, waited  # the header deadline
        with socket.create_connection(address) as kept:
            assert _response(kept, GET).startswith(b"HTTP/1.1 200")
            kept.sendall(b"GET / HT")  # the next request starts, and stalls: it cancels the keep-alive timer
            waited = seconds_until_closed(kept, 5)
            assert waited is not None and waited < 1.5 + 2, waited


@pytest.mark.slow
def test_a_request_whose_headers_came_in_time_is_answered_however_long_it_takes() -> None:
    """The deadline stops once the headers are in: the app's own time is not the client's fault."""
    with _server(keep_alive=5, header_timeout=0.5) as port, socket.create_connection(("127.0.0.1", port)) as sock:
        assert _response(sock, b"GET /?sleep=1.2 HTTP/1.1\r\nHost: kb\r\n\r\n").startswith(b"HTTP/1.1 200")
        assert _response(sock, GET).startswith(b"HTTP/1.1 200")  # and the connection is kept alive for the next
