"""Operations on the real server, `kb serve` over TCP: a SIGTERM lets the requests in flight finish and exits 0;
KB_LOG_FORMAT=json makes every line one JSON object, those written in a request with the id sent back to it."""

from __future__ import annotations

import json
import signal
import socket
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from bench.server import KB_SERVE, KB_SERVE_NO_REINDEX, running_server, server_environment
from kb.settings import Settings

# The server loads the real model itself (the index must be built with it).
pytestmark = [pytest.mark.real_model, pytest.mark.slow, pytest.mark.both_stores]

SEARCHES = 24
TICKETS = 4


def _wait_for(condition: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def _refused(address: tuple[str, int]) -> bool:
    try:
        socket.create_connection(address, timeout=1).close()
    except ConnectionRefusedError:
        return True
    return False


def _response(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection."""
    sock.settimeout(30)
    received = b""
    while chunk := sock.recv(65536):
        received += chunk
    sock.close()
    return received


def _status(response: bytes) -> int:
    return int(response.split(b" ", 2)[1]) if response.startswith(b"HTTP/1.1 ") else 0


def test_sigterm_lets_requests_in_flight_finish_refuses_new_ones_and_exits_0(
    indexed_small_settings: Settings, tmp_path: Path
) -> None:
    """Every request the server had read when the signal came is answered, including those whose bodies are still
    arriving; a new connection is refused at once; then the process exits 0."""
    log_path = tmp_path / "serve.log"
    env = server_environment(
        indexed_small_settings.data_dir,
        indexed_small_settings.articles_dir,
        {"KB_SEARCH_THREADS": "1", "KB_SHUTDOWN_GRACE_SECONDS": "20"},
    )
    with running_server(KB_SERVE_NO_REINDEX, env, log_path, timeout=90) as server:
        host = f"{server.address[0]}:{server.address[1]}"
        # The first searches of a server load what they need (a second or so, holding the event loop): done before.
        for question in ("my vpn keeps dropping at the airport", "the printer on my floor is offline"):
            assert httpx.get(f"{server.base}/v1/search", params={"q": question}, timeout=60).status_code == 200
        body = json.dumps(
            {"subject": "The printer is offline", "description": "Jobs stay queued.", "requester": "ana@example.com"}
        ).encode()
        head = (
            f"POST /v1/tickets HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode()
        # Requests surely in flight: their headers are in, the app waits for the rest of their bodies.
        tickets = [socket.create_connection(server.address) for _ in range(TICKETS)]
        for sock in tickets:
            sock.sendall(head + body[:10])
        # And a burst of searches, queued for the one model thread.
        searches = [socket.create_connection(server.address) for _ in range(SEARCHES)]
        for number, sock in enumerate(searches):
            sock.sendall(f"GET /v1/search?q=my+vpn+drops+{number} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
        # A request on a later connection, answered: the server has accepted and read every earlier one (its event
        # loop reads what each connection sent before it gets to a newer one). The searches take 10 to 50 ms each,
        # one at a time: most are still queued.
        assert httpx.get(f"{server.base}/healthz", timeout=30).status_code == 200
        with ThreadPoolExecutor(SEARCHES) as pool:
            answers = pool.map(_response, searches)
            server.process.send_signal(signal.SIGTERM)
            _wait_for(lambda: "Shutting down" in log_path.read_text(errors="replace"))
            _wait_for(lambda: _refused(server.address))  # no new connection once the stop began
            for sock in tickets:
                sock.sendall(body[10:])
            filed = [_response(sock) for sock in tickets]
            statuses = [_status(answer) for answer in answers]
        assert [_status(response) for response in filed] == [201] * TICKETS, filed[0][:500]
        assert statuses == [200] * SEARCHES
        assert server.process.wait(timeout=30) == 0  # a stop on request, finished cleanly
    log = log_path.read_text(errors="replace")
    assert "Application shutdown complete" in log
    assert "timeout graceful shutdown exceeded" not in log
    assert "Traceback" not in log


@pytest.mark.sqlite_only  # the log format, whichever the store
def test_kb_serve_writes_json_lines_with_the_request_id_it_sends_back(
    indexed_small_settings: Settings, tmp_path: Path
) -> None:
    log_path = tmp_path / "serve.log"
    env = server_environment(
        indexed_small_settings.data_dir, indexed_small_settings.articles_dir, {"KB_LOG_FORMAT": "json"}
    )
    with running_server(KB_SERVE, env, log_path, timeout=120) as server:  # the index step logs in JSON too
        found = httpx.get(
            f"{server.base}/v1/search",
            params={"q": "my vpn keeps dropping on hotel wifi"},
            headers={"X-Request-ID": "client-7"},
            timeout=30,
        )
        assert found.status_code == 200
        scraped = httpx.get(f"{server.base}/metrics", timeout=30)  # from the loopback: a scraper by default
        assert scraped.status_code == 200
        assert 'kb_search_duration_seconds_count{via="api"} 1.0' in scraped.text
    assert server.process.returncode == 0

    lines = [json.loads(line) for line in log_path.read_text().splitlines() if line.strip()]  # every line is JSON
    assert all({"time", "level", "logger", "message"} <= line.keys() for line in lines)
    messages = [(line["logger"], line["message"]) for line in lines]
    assert any(logger == "kb.cli" and message.startswith("Indexed ") for logger, message in messages)
    assert ("uvicorn.error", "Application shutdown complete.") in messages
    searched = [line for line in lines if line["logger"] == "uvicorn.access" and line["path"].startswith("/v1/search")]
    assert len(searched) == 1
    assert searched[0]["request_id"] == found.headers["X-Request-ID"]
    assert searched[0]["client_request_id"] == "client-7"
    assert (searched[0]["method"], searched[0]["status"]) == ("GET", 200)
    assert all("request_id" not in line for line in lines if line["logger"] != "uvicorn.access")  # none in a request
