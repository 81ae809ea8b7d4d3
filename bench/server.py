"""A real server in a subprocess, on a free loopback port: started, waited for until `/readyz` answers 200, stopped.

The uvicorn tests and the benchmarks speak to the same server the same way; the differences (how long a start may
take, which `KB_*` variables reach it) are arguments."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
# Command lines with a `{port}` placeholder, filled in once a free port is chosen.
UVICORN_FACTORY = [sys.executable, "-m", "uvicorn", "api.app:app_from_environment", "--factory", "--host", HOST]
UVICORN_FACTORY += ["--port", "{port}"]
# `kb serve` run as a module, so that a server started from another checkout (`cwd`) serves that checkout's code.
KB_SERVE = [sys.executable, "-m", "kb.cli.main", "serve", "--host", HOST, "--port", "{port}"]
KB_SERVE_NO_REINDEX = [*KB_SERVE, "--no-reindex"]


class ServerFailed(RuntimeError):
    """The server exited, or did not become ready in time; the message ends with its log's last lines."""


@dataclass(frozen=True)
class RunningServer:
    base: str
    process: subprocess.Popen[bytes]
    ready_seconds: float
    log_path: Path

    @property
    def address(self) -> tuple[str, int]:
        host, port = self.base.removeprefix("http://").rsplit(":", 1)
        return host, int(port)


def free_port() -> int:
    """A port nobody listens on right now (the OS picks it; a race with another process is possible but rare)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def server_environment(
    data_dir: Path,
    articles_dir: Path,
    overrides: Mapping[str, str] | None = None,
    *,
    code: Path = REPO,
    inherit_kb: bool = True,
) -> dict[str, str]:
    """This process's environment for a server over these folders: the model loaded offline, `code` importable,
    then `overrides` (more `KB_*` settings).

    `inherit_kb=False` drops the caller's `KB_*` variables, so that only the folders and `overrides` configure it."""
    # The exported encoder graphs are a cache of the machine's, not a setting: every server may share it.
    env = {k: v for k, v in os.environ.items() if inherit_kb or not k.startswith("KB_") or k == "KB_MODEL_CACHE_DIR"}
    env.update(
        KB_DATA_DIR=str(data_dir),
        KB_ARTICLES_DIR=str(articles_dir),
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        PYTHONPATH=os.pathsep.join(p for p in (str(code), env.get("PYTHONPATH", "")) if p),
    )
    env.update(overrides or {})
    return env


def start(
    command: Sequence[str], port: int, env: Mapping[str, str], log_path: Path, cwd: Path = REPO
) -> subprocess.Popen[bytes]:
    """`command` with `{port}` filled in, its output appended to `log_path`."""
    with log_path.open("ab") as log:
        return subprocess.Popen(
            [part.format(port=port) for part in command],
            cwd=cwd,
            env=dict(env),
            stdout=log,
            stderr=subprocess.STDOUT,
        )


def wait_ready(
    base: str, process: subprocess.Popen[bytes], log_path: Path, timeout: float, ready_path: str = "/readyz"
) -> float:
    """Seconds until `GET ready_path` answered 200; `ServerFailed` if the process exits or `timeout` passes first."""
    started = time.perf_counter()
    with httpx.Client(base_url=base, timeout=5.0) as probe:
        while True:
            if process.poll() is not None:
                raise ServerFailed(f"{base}: the server exited with {process.returncode}:\n{tail(log_path)}")
            if time.perf_counter() - started > timeout:
                raise ServerFailed(f"{base}: not ready after {timeout:.0f}s:\n{tail(log_path)}")
            try:
                if probe.get(ready_path).status_code == 200:
                    return time.perf_counter() - started
            except httpx.TransportError:
                pass
            time.sleep(0.2)


def stop(process: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    """SIGTERM (a graceful shutdown), then SIGKILL if it takes longer than `timeout`."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no server log)"


@contextmanager
def running_server(
    command: Sequence[str],
    env: Mapping[str, str],
    log_path: Path,
    *,
    timeout: float,
    cwd: Path = REPO,
    stop_timeout: float = 20.0,
    ready_path: str = "/readyz",
) -> Iterator[RunningServer]:
    """`command` (with a `{port}` placeholder) served on a free port until the block ends, then stopped."""
    port = free_port()
    base = f"http://{HOST}:{port}"
    process = start(command, port, env, log_path, cwd)
    try:
        ready = wait_ready(base, process, log_path, timeout, ready_path)
        yield RunningServer(base=base, process=process, ready_seconds=ready, log_path=log_path)
    finally:
        stop(process, stop_timeout)


def publish(base: str, author: str, reviewer: str, article_id: str, markdown: str) -> None:
    """Write `article_id` (an edit when it exists) as `author`, submit it, and publish it as `reviewer` (tokens),
    through the API as the support desk does."""
    with httpx.Client(base_url=base, timeout=120) as http:
        writer = {"Authorization": f"Bearer {author}"}
        current = http.get(f"/v1/articles/{article_id}", headers=writer)
        if current.status_code == 200:
            saved = http.put(
                f"/v1/articles/{article_id}",
                json={"markdown": markdown},
                headers=writer | {"If-Match": current.headers["ETag"]},
            )
        else:
            saved = http.post("/v1/articles", json={"markdown": markdown}, headers=writer)
        saved.raise_for_status()
        for to, token in (("review", author), ("published", reviewer)):
            who = {"Authorization": f"Bearer {token}"}
            etag = http.get(f"/v1/articles/{article_id}", headers=who).headers["ETag"]
            moved = http.post(
                f"/v1/articles/{article_id}/transitions", json={"to": to}, headers=who | {"If-Match": etag}
            )
            moved.raise_for_status()
