"""The real server: `uvicorn api.app:app_from_environment --factory` over a pre-built index, spoken to over TCP."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from kb.settings import Settings
from tests.conftest import stable_ticket


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_until_ready(base: str, process: subprocess.Popen[bytes], timeout: float) -> httpx.Response:
    deadline = time.monotonic() + timeout
    last: httpx.Response | None = None
    while time.monotonic() < deadline:
        assert process.poll() is None, f"uvicorn exited with {process.returncode}"
        try:
            last = httpx.get(f"{base}/readyz", timeout=5)
            if last.status_code == 200:
                return last
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"not ready after {timeout} s; last answer: {last and last.text}")


@pytest.mark.slow
def test_real_uvicorn_serves_search_and_tickets(indexed_small_settings: Settings, tmp_path: Path) -> None:
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "KB_DATA_DIR": str(indexed_small_settings.data_dir),
        "KB_ARTICLES_DIR": str(indexed_small_settings.articles_dir),
        "HF_HUB_OFFLINE": "1",
    }
    log = (tmp_path / "uvicorn.log").open("wb")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "api.app:app_from_environment",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        env=env,
        cwd=Path(__file__).resolve().parents[2],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        ready = _wait_until_ready(base, process, timeout=90)
        assert ready.json()["status"] == "ready"

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
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
    output = (tmp_path / "uvicorn.log").read_text(errors="replace")
    # Uvicorn shuts down gracefully, then re-raises SIGTERM so the exit status says how it ended.
    assert process.returncode in (0, -signal.SIGTERM), output[-3000:]
    assert "Application shutdown complete" in output
    assert "Traceback" not in output
