"""Load run: a real `kb serve` under mixed load, a burst of searches, concurrent ticket writers and held connections.

It copies the bundled articles into a temporary folder, starts `kb serve` on them (which indexes them first), and
runs these phases against it, counting every answer by status (a failed connection counts under its exception):

  load         N clients (threads, one keep-alive connection each) for S seconds, each sending a mix of searches
               (GET /v1/search), ticket creations (POST /v1/tickets) and reads of its own tickets (GET
               /v1/tickets/{id}); per kind: statuses, p50 / p95 / max latency; overall throughput.
  burst        B searches sent at the same moment: how many are answered, how many refused (503 + Retry-After),
               and how long the last one waited (without a cap on the search queue, every one waits its turn).
  writers      W ticket creations sent at the same moment: statuses and the slowest (SQLite's write lock).
  connections  I idle connections (send nothing) and H slow-header ones (half a request line, then a byte a
               second), held for T seconds: how many the server has closed by then, and what a normal request
               gets meanwhile (503 while they fill KB_MAX_CONNECTIONS).

`--repo` serves from another checkout (e.g. `git archive` of an older commit) to compare before and after; `KB_*`
variables set in the environment are passed to the server. Figures are printed, never judged: the exit status is 0
unless something broke.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/load_run.py [--seconds 60] [--clients 8] [--phases load,burst,...]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # run as `python bench/load_run.py` from anywhere
    sys.path.insert(0, str(REPO))
QUERIES_FILE = REPO / "bench" / "questions" / "starter" / "queries.jsonl"
SERVER_START_TIMEOUT_S = 600.0
SERVER_STOP_TIMEOUT_S = 30.0
PHASES = ("load", "burst", "writers", "connections")

import httpx  # noqa: E402

from bench import server  # noqa: E402
from bench.server import free_port, wait_ready  # noqa: E402, F401  (kill_loop.py imports them from here)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- The server -----------------------------------------------------------------------------------------------


def server_environment(repo: Path, data_dir: Path, articles_dir: Path) -> dict[str, str]:
    env = server.server_environment(data_dir, articles_dir, code=repo)
    env.setdefault("KB_RATE_LIMIT_PER_MINUTE", "0")  # a handful of clients send thousands a minute on purpose
    return env


def start_server(repo: Path, env: dict[str, str], port: int, log_path: Path, reindex: bool) -> subprocess.Popen[bytes]:
    """`kb serve` from `repo` (run as a module, so an older checkout serves its own code)."""
    command = server.KB_SERVE if reindex else server.KB_SERVE_NO_REINDEX
    return server.start(command, port, env, log_path, cwd=repo)


def stop(process: subprocess.Popen[bytes]) -> None:
    server.stop(process, SERVER_STOP_TIMEOUT_S)


@contextmanager
def served(repo: Path, work: Path) -> Iterator[str]:
    """A `kb serve` over a fresh copy of the bundled articles in `work`; yields its base URL."""
    articles = work / "articles"
    shutil.copytree(REPO / "articles", articles)
    log_path = work / "serve.log"
    env = server_environment(repo, work / "data", articles)
    with server.running_server(
        server.KB_SERVE,
        env,
        log_path,
        timeout=SERVER_START_TIMEOUT_S,
        cwd=repo,
        stop_timeout=SERVER_STOP_TIMEOUT_S,
    ) as running:
        log(
            f"kb serve ({repo}) ready at {running.base} after {running.ready_seconds:.1f}s (indexing included); "
            f"log: {log_path}"
        )
        yield running.base


# --- Measuring ------------------------------------------------------------------------------------------------


@dataclass
class Tally:
    """Answers of one kind of request: (status or exception name, latency in seconds), and Retry-After values."""

    answers: list[tuple[str, float]] = field(default_factory=list)
    retry_after: Counter[str] = field(default_factory=Counter)

    def add(self, status: str, seconds: float, retry_after: str | None = None) -> None:
        self.answers.append((status, seconds))
        if retry_after is not None:
            self.retry_after[retry_after] += 1

    def merge(self, other: Tally) -> None:
        self.answers.extend(other.answers)
        self.retry_after.update(other.retry_after)

    @property
    def statuses(self) -> Counter[str]:
        return Counter(status for status, _ in self.answers)

    def summary(self) -> dict[str, Any]:
        """Count, statuses, p50 / p95 / max latency (ms) of all answers, and p50 / max by status."""
        by_status: dict[str, list[float]] = defaultdict(list)
        for status, seconds in self.answers:
            by_status[status].append(seconds)
        every = [seconds for _, seconds in self.answers]
        return {
            "requests": len(self.answers),
            "statuses": dict(sorted(self.statuses.items())),
            "p50_ms": ms(percentile(every, 0.50)),
            "p95_ms": ms(percentile(every, 0.95)),
            "max_ms": ms(max(every, default=float("nan"))),
            "by_status_p50_max_ms": {
                status: [ms(percentile(values, 0.5)), ms(max(values))] for status, values in sorted(by_status.items())
            },
            **({"retry_after": dict(self.retry_after)} if self.retry_after else {}),
        }


def percentile(values: Sequence[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def ms(seconds: float) -> float:
    return round(seconds * 1000, 1)


def timed(tally: Tally, send: Callable[[], httpx.Response]) -> httpx.Response | None:
    """Send one request (`send()`), record its status or exception and its latency; the response, if any."""
    started = time.perf_counter()
    try:
        response = send()
    except httpx.HTTPError as exc:
        tally.add(type(exc).__name__, time.perf_counter() - started)
        return None
    tally.add(str(response.status_code), time.perf_counter() - started, response.headers.get("retry-after"))
    return response


def load_queries() -> list[str]:
    return [json.loads(line)["text"] for line in QUERIES_FILE.read_text(encoding="utf-8").splitlines() if line]


def new_ticket(rng: random.Random, queries: Sequence[str], label: str) -> dict[str, str]:
    """A ticket as an employee files one after a search: no team given, so kb routes it (a search of its own)."""
    question = rng.choice(queries)
    return {
        "subject": question[:120],
        "description": f"{question} ({label})",
        "requester": f"load-{rng.randrange(50)}@example.com",
    }


# --- Phases ---------------------------------------------------------------------------------------------------


def phase_load(base: str, clients: int, seconds: float, mix: dict[str, int], seed: int) -> dict[str, Any]:
    queries = load_queries()
    kinds = list(mix)
    weights = [mix[k] for k in kinds]
    tallies: list[dict[str, Tally]] = []
    barrier = threading.Barrier(clients + 1)
    deadline = [0.0]

    def client(number: int) -> None:
        rng = random.Random(seed + number)
        mine: list[int] = []
        tally: dict[str, Tally] = defaultdict(Tally)
        tallies.append(tally)
        with httpx.Client(base_url=base, timeout=60.0) as http:
            barrier.wait()
            while time.perf_counter() < deadline[0]:
                kind = rng.choices(kinds, weights)[0]
                if kind == "read" and not mine:
                    kind = "create"
                if kind == "search":
                    q = rng.choice(queries)
                    timed(tally[kind], partial(http.get, "/v1/search", params={"q": q, "limit": 5}))
                elif kind == "create":
                    body = new_ticket(rng, queries, f"load client {number}")
                    response = timed(tally[kind], partial(http.post, "/v1/tickets", json=body))
                    if response is not None and response.status_code == 201:
                        mine.append(int(response.json()["id"]))
                else:
                    ticket_id = rng.choice(mine)
                    timed(tally[kind], partial(http.get, f"/v1/tickets/{ticket_id}"))

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    deadline[0] = time.perf_counter() + seconds
    started = time.perf_counter()
    barrier.wait()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    by_kind: dict[str, Tally] = defaultdict(Tally)
    for tally in tallies:
        for kind, kind_tally in tally.items():
            by_kind[kind].merge(kind_tally)
    overall = Tally()
    for kind_tally in by_kind.values():
        overall.merge(kind_tally)
    return {
        "clients": clients,
        "seconds": round(elapsed, 1),
        "requests": len(overall.answers),
        "per_second": round(len(overall.answers) / elapsed, 1),
        "statuses": dict(sorted(overall.statuses.items())),
        "kinds": {kind: by_kind[kind].summary() for kind in kinds if kind in by_kind},
    }


def all_at_once(count: int, send: Any) -> Tally:
    """`count` requests from as many threads (one connection each), released together."""
    tally = Tally()
    barrier = threading.Barrier(count)
    lock = threading.Lock()

    def one(number: int) -> None:
        with httpx.Client(timeout=120.0) as http:
            barrier.wait()
            local = Tally()
            timed(local, partial(send, http, number))
        with lock:
            tally.merge(local)

    run_threads(one, count)
    return tally


def run_threads(target: Callable[[int], None], count: int) -> None:
    """`target(0)` … `target(count - 1)`, each on its own thread, and wait for all of them."""
    threads = [threading.Thread(target=target, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def phase_burst(base: str, size: int, seed: int) -> dict[str, Any]:
    queries = load_queries()
    rng = random.Random(seed)
    picked = [rng.choice(queries) for _ in range(size)]
    tally = all_at_once(size, lambda http, n: http.get(f"{base}/v1/search", params={"q": picked[n], "limit": 5}))
    return {"searches": size, **tally.summary()}


def phase_writers(base: str, size: int, seed: int) -> dict[str, Any]:
    queries = load_queries()
    rng = random.Random(seed)
    bodies = [new_ticket(rng, queries, f"writer {n}") for n in range(size)]
    tally = all_at_once(size, lambda http, n: http.post(f"{base}/v1/tickets", json=bodies[n]))
    return {"writers": size, **tally.summary()}


def _still_open(sock: socket.socket) -> bool:
    """Whether the server has not closed `sock` (nothing to read and no end of stream)."""
    sock.setblocking(False)
    try:
        while True:
            data = sock.recv(4096)
            if not data:
                return False
    except BlockingIOError:
        return True
    except OSError:
        return False


def phase_connections(base: str, idle: int, slow: int, hold: float) -> dict[str, Any]:
    host, port = base.removeprefix("http://").rsplit(":", 1)
    address = (host, int(port))
    idle_socks = [socket.create_connection(address) for _ in range(idle)]
    slow_socks = [socket.create_connection(address) for _ in range(slow)]
    for sock in slow_socks:
        sock.sendall(b"GET /v1/search?q=vpn HT")
    meanwhile = Tally()
    started = time.perf_counter()
    with httpx.Client(base_url=base, timeout=30.0) as http:
        while time.perf_counter() - started < hold:
            for sock in slow_socks:  # a byte a second: resets a timer that any byte resets
                if _still_open(sock):
                    try:
                        sock.setblocking(True)
                        sock.sendall(b"T")
                    except OSError:
                        pass
            timed(meanwhile, partial(http.get, "/healthz"))
            time.sleep(1.0)
    result = {
        "held_seconds": hold,
        "idle_open": sum(_still_open(s) for s in idle_socks),
        "idle": idle,
        "slow_header_open": sum(_still_open(s) for s in slow_socks),
        "slow_header": slow,
        "healthz_meanwhile": dict(meanwhile.statuses),
    }
    for sock in idle_socks + slow_socks:
        sock.close()
    time.sleep(0.5)
    with httpx.Client(base_url=base, timeout=30.0) as http:
        result["healthz_after"] = http.get("/healthz").status_code
    return result


# --- Main -----------------------------------------------------------------------------------------------------


def parse_mix(text: str) -> dict[str, int]:
    mix = {}
    for part in text.split(","):
        name, _, weight = part.partition("=")
        if name.strip() not in ("search", "create", "read"):
            raise argparse.ArgumentTypeError(f"unknown request kind {name!r}: search, create or read")
        mix[name.strip()] = int(weight or 1)
    return mix


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--phases", default=",".join(PHASES), help=f"which phases, in order (default {PHASES})")
    parser.add_argument("--clients", type=int, default=8, help="load: client threads (default 8)")
    parser.add_argument("--seconds", type=float, default=60.0, help="load: duration (default 60)")
    parser.add_argument(
        "--mix", type=parse_mix, default="search=6,create=2,read=2", help="load: weights (default search=6,...)"
    )
    parser.add_argument("--burst", type=int, default=100, help="burst: searches sent at once (default 100)")
    parser.add_argument("--writers", type=int, default=64, help="writers: ticket creations at once (default 64)")
    parser.add_argument("--idle", type=int, default=500, help="connections: idle ones (default 500)")
    parser.add_argument("--slow", type=int, default=50, help="connections: slow-header ones (default 50)")
    parser.add_argument("--hold", type=float, default=20.0, help="connections: how long they are held (default 20)")
    parser.add_argument("--seed", type=int, default=17)
    parser.add_argument("--repo", type=Path, default=REPO, help="serve this checkout's code (default: this one)")
    parser.add_argument("--server", default=None, help="measure this running server (base URL) instead")
    args = parser.parse_args(argv)
    if isinstance(args.mix, str):
        args.mix = parse_mix(args.mix)
    args.phases = [p.strip() for p in args.phases.split(",") if p.strip()]
    unknown = set(args.phases) - set(PHASES)
    if unknown:
        parser.error(f"unknown phases {sorted(unknown)}; choose from {PHASES}")
    return args


def run(base: str, args: argparse.Namespace) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    for phase in args.phases:
        log(f"phase {phase} ...")
        if phase == "load":
            figures[phase] = phase_load(base, args.clients, args.seconds, args.mix, args.seed)
        elif phase == "burst":
            figures[phase] = phase_burst(base, args.burst, args.seed)
        elif phase == "writers":
            figures[phase] = phase_writers(base, args.writers, args.seed)
        else:
            figures[phase] = phase_connections(base, args.idle, args.slow, args.hold)
        print(f"{phase}: {json.dumps(figures[phase])}", flush=True)
    return figures


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.server:
        figures = run(args.server.rstrip("/"), args)
    else:
        with tempfile.TemporaryDirectory(prefix="kb-load-") as tmp, served(args.repo.resolve(), Path(tmp)) as base:
            figures = run(base, args)
    print(json.dumps({"repo": str(args.repo), **figures}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
