"""The HTTP client of the speed benchmarks: one keep-alive connection per client, the standard library only.

A light client matters on a 2-core host: whatever the client spends, the servers do not get. Both the interleaved
latency run and the concurrent throughput run send the same queries the same way to every server compared."""

from __future__ import annotations

import http.client
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import numpy as np


@dataclass(frozen=True)
class Target:
    """A server and how a query becomes its request path."""

    name: str
    base: str
    path: Callable[[str], str]
    headers: Mapping[str, str] = field(default_factory=dict)  # e.g. a bearer token


@dataclass
class Stats:
    samples_ms: list[float] = field(default_factory=list)

    def p(self, q: float) -> float:
        return float(np.percentile(self.samples_ms, q)) if self.samples_ms else float("nan")


@dataclass(frozen=True)
class Throughput:
    clients: int
    seconds: float
    requests: int
    statuses: dict[str, int]
    p50_ms: float
    p95_ms: float

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds if self.seconds else float("nan")


class Connection:
    """One keep-alive connection that reconnects after a failure."""

    def __init__(self, base: str, timeout: float = 60.0, headers: Mapping[str, str] | None = None) -> None:
        parts = urlsplit(base)
        self._host, self._port, self._timeout = parts.hostname or "127.0.0.1", parts.port or 80, timeout
        self._headers = dict(headers or {})
        self._connection: http.client.HTTPConnection | None = None

    def get(self, path: str) -> tuple[int, bytes]:
        reused = self._connection is not None
        try:
            return self._get(path)
        except (OSError, http.client.HTTPException):
            if not reused:
                raise
            return self._get(path)  # the server closed an idle keep-alive connection: once more, on a new one

    def _get(self, path: str) -> tuple[int, bytes]:
        if self._connection is None:
            self._connection = http.client.HTTPConnection(self._host, self._port, timeout=self._timeout)
        try:
            self._connection.request("GET", path, headers=self._headers)
            response = self._connection.getresponse()
            return response.status, response.read()
        except (OSError, http.client.HTTPException):
            self._connection.close()
            self._connection = None
            raise

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()


def interleaved(targets: Sequence[Target], queries: Sequence[str], timed: int) -> dict[str, Stats]:
    """One client, one connection per target: each query goes to every target in a rotating order, so that load
    from anything else on the host lands on all of them alike. Every query is sent once untimed first."""
    connections = {t.name: Connection(t.base, headers=t.headers) for t in targets}
    stats = {t.name: Stats() for t in targets}
    try:
        for target in targets:
            for query in queries:
                _ok(target, *connections[target.name].get(target.path(query)))
        rounds = -(-timed // len(queries))
        turn = 0
        for _ in range(rounds):
            for query in queries:
                turn += 1
                for target in [*targets[turn % len(targets) :], *targets[: turn % len(targets)]]:
                    started = time.perf_counter()
                    _ok(target, *connections[target.name].get(target.path(query)))
                    stats[target.name].samples_ms.append((time.perf_counter() - started) * 1000)
    finally:
        for connection in connections.values():
            connection.close()
    return stats


def throughput(target: Target, queries: Sequence[str], clients: int, seconds: float) -> Throughput:
    """`clients` threads, each on its own connection, sending queries back to back for `seconds`."""
    statuses: Counter[str] = Counter()
    latencies: list[float] = []
    lock = threading.Lock()
    start = threading.Barrier(clients + 1)
    deadline = [0.0]

    def client(number: int) -> None:
        connection = Connection(target.base, headers=target.headers)
        mine: list[float] = []
        seen: Counter[str] = Counter()
        turn = number * 7
        start.wait()
        while time.perf_counter() < deadline[0]:
            query = queries[turn % len(queries)]
            turn += 1
            began = time.perf_counter()
            try:
                status, _ = connection.get(target.path(query))
                seen[str(status)] += 1
            except (OSError, http.client.HTTPException) as exc:
                seen[type(exc).__name__] += 1
                continue
            mine.append((time.perf_counter() - began) * 1000)
        connection.close()
        with lock:
            statuses.update(seen)
            latencies.extend(mine)

    threads = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(clients)]
    for thread in threads:
        thread.start()
    deadline[0] = time.perf_counter() + seconds
    began = time.perf_counter()
    start.wait()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    ok = sum(count for status, count in statuses.items() if status == "200")
    stats = Stats(latencies)
    return Throughput(clients, elapsed, ok, dict(statuses), stats.p(50), stats.p(95))


def throughput_runs(
    targets: Sequence[Target], queries: Sequence[str], clients: int, seconds: float
) -> tuple[dict[str, list[float]], dict[str, Throughput]]:
    """Each target's `throughput` twice, in turn, the order reversed the second time (a neighbour's burst only ever
    lowers a figure, so the better run counts): every run's queries per second, and each target's last run."""
    runs: dict[str, list[float]] = {t.name: [] for t in targets}
    details: dict[str, Throughput] = {}
    for order in (targets, targets[::-1]):
        for target in order:
            result = throughput(target, queries, clients, seconds)
            runs[target.name].append(result.per_second)
            details[target.name] = result
    return runs, details


def _ok(target: Target, status: int, body: bytes) -> None:
    if status != 200:
        raise RuntimeError(f"{target.name} answered {status}: {body[:300]!r}")
