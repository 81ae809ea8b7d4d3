"""The real server, `uvicorn api.app:app_from_environment --factory` and `kb serve`, over a pre-built index, spoken to
over TCP: what depends on the server (the peer address, proxy headers, the Host) is checked here."""

from __future__ import annotations

import signal
import socket
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from bench.server import KB_SERVE_NO_REINDEX, UVICORN_FACTORY, running_server, server_environment
from kb.service import KnowledgeBase
from kb.settings import Settings
from tests.conftest import stable_ticket
from tests.sockets import seconds_until_closed

# The servers load the real model themselves (the index must be built with it), and search ranks with it.
pytestmark = [pytest.mark.real_model, pytest.mark.both_stores]


@contextmanager
def _served(command: list[str], settings: Settings, log_path: Path, **env: str) -> Iterator[str]:
    """Run `command` (a server on `settings`' data, listening on the port it is given as `{port}`), wait until it is
    ready, yield its base URL; then stop it and check that it shut down cleanly."""
    environment = server_environment(settings.data_dir, settings.articles_dir, env)
    with running_server(command, environment, log_path, timeout=90) as server:
        ready = httpx.get(f"{server.base}/readyz", timeout=5)
        assert ready.json()["status"] == "ready"
        yield server.base
    output = log_path.read_text(errors="replace")
    # Uvicorn shuts down gracefully, then re-raises SIGTERM so the exit status says how it ended.
    assert server.process.returncode in (0, -signal.SIGTERM), output[-3000:]
    assert "Application shutdown complete" in output
    assert "Traceback" not in output


UVICORN = UVICORN_FACTORY
# `kb serve` itself, which chooses uvicorn's options (proxy headers) from the settings.
KB_SERVE = KB_SERVE_NO_REINDEX


@pytest.mark.slow
def test_real_uvicorn_serves_search_and_tickets(indexed_small_settings: Settings, tmp_path: Path) -> None:
    with _served(UVICORN, indexed_small_settings, tmp_path / "uvicorn.log") as base:
        found = httpx.get(
            f"{base}/v1/search", params={"q": "my vpn keeps dropping on hotel wifi", "limit": 3}, timeout=30
        )
        assert found.status_code == 200
        body = found.json()
        assert body["answered"] is True
        assert body["results"][0]["article_id"] == "vpn-drops-on-public-wifi"

        created = httpx.post(
            f"{base}/v1/tickets",
            json={
                "subject": "The printer on my floor is offline",
                "description": "Jobs stay in the queue.",
                "requester": "ana@example.com",
            },
            timeout=30,
        )
        assert created.status_code == 201, created.text
        ticket = created.json()
        assert ticket["team"] == "IT"
        assert stable_ticket(httpx.get(f"{base}/v1/tickets/{ticket['id']}", timeout=30).json()) == stable_ticket(ticket)

        problem = httpx.get(f"{base}/v1/search", params={"q": " "}, timeout=30)
        assert problem.status_code == 422
        assert problem.headers["content-type"] == "application/problem+json"


def _failed_sign_in_origins(settings: Settings) -> list[str]:
    kb = KnowledgeBase(settings)
    try:
        return [e["origin"] for e in kb.store.audit.recent(1000) if e["action"] == "auth.failed"]
    finally:
        kb.close()


@pytest.mark.slow
@pytest.mark.sqlite_only  # the connection handling, whichever the store
def test_kb_serve_trusts_no_forwarding_header_by_default(indexed_small_settings: Settings, tmp_path: Path) -> None:
    """Uvicorn's defaults believe X-Forwarded-For from 127.0.0.1; `kb serve` believes it from no one unless
    KB_FORWARDED_ALLOW_IPS says so. And in local auth a forwarded request, or one naming a foreign Host, needs a
    token however local its peer is."""
    environment = {"KB_AUTH": "local", "KB_TRUSTED_CLIENTS": '["127.0.0.1","::1"]', "KB_FORWARDED_ALLOW_IPS": ""}
    with _served(KB_SERVE, indexed_small_settings, tmp_path / "serve.log", **environment) as base:
        url = f"{base}/v1/webhooks"  # admins only
        port = base.rsplit(":", 1)[1]
        assert httpx.get(url, timeout=30).status_code == 200  # a plain loopback request: the local admin
        for headers in (
            {"X-Forwarded-For": "127.0.0.1"},
            {"X-Forwarded-For": "10.1.2.3"},
            {"X-Real-IP": "127.0.0.1"},
            {"Forwarded": "for=127.0.0.1"},
            {"Host": "rebind.evil.example"},
            {"Host": f"rebind.evil.example:{port}"},
        ):
            refused = httpx.get(url, headers=headers, timeout=30)
            assert refused.status_code == 401, (headers, refused.text)
        for host in ("localhost", f"localhost:{port}", "127.0.0.1"):
            assert httpx.get(url, headers={"Host": host}, timeout=30).status_code == 200, host
        # The peer address stays the peer's: a bad token sent "for" 10.1.2.3 is audited as from 127.0.0.1.
        bad = httpx.get(url, headers={"Authorization": "Bearer wrong", "X-Forwarded-For": "10.1.2.3"}, timeout=30)
        assert bad.status_code == 401
    assert _failed_sign_in_origins(indexed_small_settings) == ["127.0.0.1"]


@pytest.mark.slow
@pytest.mark.sqlite_only  # the connection handling, whichever the store
def test_kb_serve_believes_the_proxy_it_is_told_about(indexed_small_settings: Settings, tmp_path: Path) -> None:
    """With KB_FORWARDED_ALLOW_IPS naming the proxy, the client address is the forwarded one (for limits and the
    audit), and the proxy itself is never the local admin, with or without a forwarding header."""
    environment = {
        "KB_AUTH": "local",
        "KB_TRUSTED_CLIENTS": '["127.0.0.1","::1"]',
        "KB_FORWARDED_ALLOW_IPS": "127.0.0.1",
    }
    with _served(KB_SERVE, indexed_small_settings, tmp_path / "serve.log", **environment) as base:
        url = f"{base}/v1/webhooks"
        assert httpx.get(url, timeout=30).status_code == 401  # from the proxy's address: needs a token
        assert httpx.get(url, headers={"X-Forwarded-For": "127.0.0.1"}, timeout=30).status_code == 401
        bad = httpx.get(url, headers={"Authorization": "Bearer wrong", "X-Forwarded-For": "10.1.2.3"}, timeout=30)
        assert bad.status_code == 401
    assert _failed_sign_in_origins(indexed_small_settings) == ["10.1.2.3"]


@pytest.mark.slow
@pytest.mark.sqlite_only  # the connection handling, whichever the store
def test_kb_serve_closes_idle_and_slow_connections_and_caps_them(
    indexed_small_settings: Settings, tmp_path: Path
) -> None:
    """Connections that send nothing, or half a request line, no longer stay open for ever: `kb serve` closes them
    after KB_KEEP_ALIVE_SECONDS / KB_HEADER_TIMEOUT_SECONDS. While KB_MAX_CONNECTIONS are open, a request is
    answered 503 at once; once they are closed, it is served again."""
    environment = {"KB_KEEP_ALIVE_SECONDS": "2", "KB_HEADER_TIMEOUT_SECONDS": "3", "KB_MAX_CONNECTIONS": "6"}
    with _served(KB_SERVE, indexed_small_settings, tmp_path / "serve.log", **environment) as base:
        address = ("127.0.0.1", int(base.rsplit(":", 1)[1]))
        idle = [socket.create_connection(address) for _ in range(3)]
        slow = [socket.create_connection(address) for _ in range(3)]
        try:
            for sock in slow:
                sock.sendall(b"GET /v1/search?q=vpn HT")  # half a request line, and then nothing
            full = httpx.get(f"{base}/healthz", timeout=10)
            assert full.status_code == 503  # 6 connections open: uvicorn's cap answers at once
            with ThreadPoolExecutor(len(idle + slow)) as pool:
                waited = list(pool.map(lambda sock: seconds_until_closed(sock, 10), idle + slow))
        finally:
            for sock in idle + slow:
                sock.close()
        assert all(w is not None and w < 2 + 3 for w in waited[:3]), waited  # the idle ones: keep-alive
        assert all(w is not None and 1 < w < 3 + 3 for w in waited[3:]), waited  # the slow ones: headers
        assert httpx.get(f"{base}/healthz", timeout=10).status_code == 200
