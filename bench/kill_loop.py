"""Kill loop: `kill -9` a real `kb serve` while tickets are being written, restart it, and check that every
acknowledged ticket is there; then `kill -9` `kb index --rebuild` while searches run.

Tickets. Each round starts `kb serve` over a temporary copy of the bundled articles, lets W writer threads create
tickets as fast as they can (each with its own `Idempotency-Key`, which is also its subject), and after a random
delay kills the server with SIGKILL. The server is started again and:
  - every acknowledged ticket (a 201 with its id) must be readable, with its subject: lost = those that are not;
  - every request that got no answer (sent when the server died) is sent again with the same key: it must make or
    return exactly one ticket.
After the last round the store is read directly: no subject (key) may appear twice.

Index. With the server up and S threads searching, `kb index --rebuild` is started and killed with SIGKILL at a
random moment of a build (timed once, unkilled, first), K times; after each kill `CURRENT` must name a generation
folder that exists and `/readyz` must answer 200. Every search status is counted.

Figures are printed, never judged: the exit status is 0 unless something broke.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/kill_loop.py [--rounds 5] [--writers 8] [--index-kills 7]
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import httpx
from load_run import (
    REPO,
    SERVER_START_TIMEOUT_S,
    free_port,
    load_queries,
    log,
    run_threads,
    server_environment,
    start_server,
    stop,
    wait_ready,
)


@dataclass
class Server:
    """One data directory served again and again (by the same `repo`), each time on a fresh port."""

    repo: Path
    work: Path
    process: subprocess.Popen[bytes] | None = None
    base: str = ""
    starts: int = 0

    @property
    def env(self) -> dict[str, str]:
        return server_environment(self.repo, self.work / "data", self.work / "articles")

    def start(self) -> str:
        port = free_port()
        log_path = self.work / "serve.log"
        self.process = start_server(self.repo, self.env, port, log_path, reindex=self.starts == 0)
        self.base = f"http://127.0.0.1:{port}"
        ready = wait_ready(self.base, self.process, log_path, SERVER_START_TIMEOUT_S)
        self.starts += 1
        log(f"kb serve up at {self.base} after {ready:.1f}s")
        return self.base

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()  # SIGKILL: no shutdown, no flush, no cleanup
        self.process.wait()

    def stop(self) -> None:
        if self.process is not None:
            stop(self.process)


@dataclass
class Round:
    acknowledged: dict[str, int] = field(default_factory=dict)  # key → ticket id
    unanswered: list[str] = field(default_factory=list)  # keys sent without an answer
    refused: Counter[str] = field(default_factory=Counter)  # other answers (status or exception) while up


def write_until_down(base: str, writers: int, label: str) -> Round:
    """W threads creating tickets (a team given: no routing search, as many writes as possible) until the server
    dies."""
    result = Round()
    lock = threading.Lock()

    def writer(number: int) -> None:
        with httpx.Client(base_url=base, timeout=30.0) as http:
            for count in range(1_000_000):
                key = f"{label}-w{number}-{count}"
                body = {"subject": key, "description": "kill loop", "requester": "kill@example.com", "team": "IT"}
                try:
                    response = http.post("/v1/tickets", json=body, headers={"Idempotency-Key": key})
                except httpx.HTTPError:
                    with lock:
                        result.unanswered.append(key)
                    return  # the server is gone
                with lock:
                    if response.status_code == 201:
                        result.acknowledged[key] = int(response.json()["id"])
                    else:
                        result.refused[str(response.status_code)] += 1

    run_threads(writer, writers)
    return result


def check_round(base: str, result: Round) -> dict[str, Any]:
    lost = 0
    with httpx.Client(base_url=base, timeout=30.0) as http:
        for key, ticket_id in result.acknowledged.items():
            found = http.get(f"/v1/tickets/{ticket_id}")
            if found.status_code != 200 or found.json()["subject"] != key:
                lost += 1
        retried: Counter[str] = Counter()
        for key in result.unanswered:
            body = {"subject": key, "description": "kill loop", "requester": "kill@example.com", "team": "IT"}
            again = http.post("/v1/tickets", json=body, headers={"Idempotency-Key": key})
            replayed = again.headers.get("idempotent-replayed", "?")
            retried[f"{again.status_code} replayed={replayed}"] += 1
    return {
        "acknowledged": len(result.acknowledged),
        "lost": lost,
        "unanswered_retried": dict(retried),
        "refused_while_up": dict(result.refused),
    }


def ticket_loop(server: Server, rounds: int, writers: int, rng: random.Random) -> dict[str, Any]:
    per_round = []
    keys: set[str] = set()
    for number in range(rounds):
        base = server.start()
        delay = rng.uniform(2.0, 4.0)
        killer = threading.Timer(delay, server.kill)
        killer.start()
        result = write_until_down(base, writers, f"r{number}")
        killer.join()
        base = server.start()
        figures = {"round": number, "killed_after_s": round(delay, 2), **check_round(base, result)}
        per_round.append(figures)
        keys.update(result.acknowledged, result.unanswered)
        print(f"tickets: {json.dumps(figures)}", flush=True)
        server.stop()
    with sqlite3.connect(server.work / "data" / "kb.sqlite3") as conn:
        counts = Counter(dict(conn.execute("SELECT subject, count(*) FROM tickets GROUP BY subject").fetchall()))
    return {
        "rounds": rounds,
        "acknowledged": sum(r["acknowledged"] for r in per_round),
        "lost": sum(r["lost"] for r in per_round),
        "keys": len(keys),
        "keys_missing": sum(1 for k in keys if counts[k] == 0),
        "keys_duplicated": sum(1 for k in keys if counts[k] > 1),
    }


def current_generation_ok(index_dir: Path) -> bool:
    pointer = index_dir / "CURRENT"
    try:
        name = pointer.read_text(encoding="utf-8").strip()
    except OSError:
        return False
    return bool(name) and (index_dir / name).is_dir()


def index_kills(server: Server, kills: int, searchers: int, rng: random.Random) -> dict[str, Any]:
    base = server.start()
    queries = load_queries()
    statuses: Counter[str] = Counter()
    lock = threading.Lock()
    done = threading.Event()

    def searcher(number: int) -> None:
        local = random.Random(number)
        with httpx.Client(base_url=base, timeout=60.0) as http:
            while not done.is_set():
                try:
                    status = str(http.get("/v1/search", params={"q": local.choice(queries)}).status_code)
                except httpx.HTTPError as exc:
                    status = type(exc).__name__
                with lock:
                    statuses[status] += 1

    threads = [threading.Thread(target=searcher, args=(n,)) for n in range(searchers)]
    for thread in threads:
        thread.start()
    command = [sys.executable, "-m", "kb.cli.main", "index", "--rebuild"]
    index_dir = server.work / "data" / "index"
    checks: list[dict[str, Any]] = []
    try:
        started = time.perf_counter()
        subprocess.run(command, cwd=server.repo, env=server.env, capture_output=True, check=True)
        full = time.perf_counter() - started
        log(f"one unkilled `kb index --rebuild`: {full:.1f}s")
        for _ in range(kills):
            at = rng.uniform(0.5, full)
            builder = subprocess.Popen(
                command, cwd=server.repo, env=server.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            time.sleep(at)
            finished = builder.poll() is not None
            builder.kill()
            builder.wait()
            ready = httpx.get(f"{base}/readyz", timeout=30).status_code
            checks.append(
                {"killed_at_s": round(at, 2), "had_finished": finished, "current_ok": current_generation_ok(index_dir)}
            )
            checks[-1]["readyz"] = ready
            print(f"index kill: {json.dumps(checks[-1])}", flush=True)
    finally:
        done.set()
        for thread in threads:
            thread.join()
        server.stop()
    return {
        "kills": kills,
        "rebuild_s": round(full, 1),
        "current_always_ok": all(c["current_ok"] for c in checks),
        "readyz": dict(Counter(str(c["readyz"]) for c in checks)),
        "searches": dict(statuses),
    }


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5, help="ticket rounds, one kill each (default 5)")
    parser.add_argument("--writers", type=int, default=8, help="writer threads per round (default 8)")
    parser.add_argument("--index-kills", type=int, default=7, help="kills of `kb index --rebuild` (default 7; 0: none)")
    parser.add_argument("--searchers", type=int, default=2, help="search threads during the index kills (default 2)")
    parser.add_argument("--seed", type=int, default=17)
    parser.add_argument("--repo", type=Path, default=REPO, help="serve this checkout's code (default: this one)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    rng = random.Random(args.seed)
    figures: dict[str, Any] = {"repo": str(args.repo)}
    with tempfile.TemporaryDirectory(prefix="kb-kill-") as tmp:
        work = Path(tmp)
        shutil.copytree(REPO / "articles", work / "articles")
        server = Server(args.repo.resolve(), work)
        try:
            if args.rounds:
                figures["tickets"] = ticket_loop(server, args.rounds, args.writers, rng)
            if args.index_kills:
                figures["index"] = index_kills(server, args.index_kills, args.searchers, rng)
        finally:
            server.stop()
    print(json.dumps(figures), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
