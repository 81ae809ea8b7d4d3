"""The figures of several servers on one database (issue 24), measured in one run on a local cluster
(bench/cluster.py): run by `bench/cluster.py --measure`.

  searches/s    8 clients searching for 15 s through the balancer (3 replicas) and against one replica alone, in
                turn (on 2 cores the cores are the limit: three replicas should not fall below one);
  publish       50 publishes, each on the next replica in turn: from the start of the publish request until every
                replica's search lists the article, p50/p95;
  kill -9       8 clients (searches, ticket creations with Idempotency-Keys, retried with the same key) while one
                replica is killed: accepted tickets lost or duplicated, errors clients saw, and the webhook events
                `ticket.created` delivered to a receiver: exactly once, twice, never;
  PostgreSQL    ticket creation p50 on a replica over PostgreSQL against one `kb serve` over SQLite, 200 each.

Figures are printed, never judged.
"""

from __future__ import annotations

import json
import math
import statistics
import threading
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import sqlalchemy as sa

from bench.cluster import Cluster
from bench.http_load import Target, throughput
from bench.server import KB_SERVE, publish, running_server, server_environment

QUERIES = ["vpn drops on hotel wifi", "printer offline", "badge does not open the door", "request annual leave"]


@dataclass
class Load:
    """8 clients through the balancer: the odd ones search, the even ones create tickets, each with its own
    Idempotency-Key, sent again with the same key after an error, as a client on a bad network does."""

    base: str
    token: str
    stop: threading.Event = field(default_factory=threading.Event)
    accepted: dict[str, int] = field(default_factory=dict)  # key (also the subject) -> ticket id
    statuses: list[tuple[float, str, int]] = field(default_factory=list)  # (when, kind, status; 0: no answer)
    failed: list[str] = field(default_factory=list)  # keys never accepted, however often sent
    lock: threading.Lock = field(default_factory=threading.Lock)
    threads: list[threading.Thread] = field(default_factory=list)

    def start(self, clients: int = 8) -> None:
        self.threads = [threading.Thread(target=self._client, args=(n,), daemon=True) for n in range(clients)]
        for thread in self.threads:
            thread.start()

    def finish(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(60)

    def errors(self, after: float = 0.0) -> Counter[int]:
        return Counter(s for at, _, s in self.statuses if at > after and s not in (200, 201))

    def _record(self, kind: str, status: int) -> None:
        with self.lock:
            self.statuses.append((time.monotonic(), kind, status))

    def _client(self, number: int) -> None:
        headers = {"Authorization": f"Bearer {self.token}"}
        with httpx.Client(base_url=self.base, timeout=30) as http:
            while not self.stop.is_set():
                if number % 2:
                    try:
                        query = QUERIES[len(self.statuses) % len(QUERIES)]
                        status = http.get("/v1/search", params={"q": query}, headers=headers).status_code
                    except httpx.TransportError:
                        status = 0
                    self._record("search", status)
                else:
                    self._ticket(http, headers)

    def _ticket(self, http: httpx.Client, headers: dict[str, str]) -> None:
        key = uuid.uuid4().hex
        body = {"subject": key, "description": "The printer on floor 3 is offline."}
        for _attempt in range(30):
            try:
                response = http.post("/v1/tickets", json=body, headers=headers | {"Idempotency-Key": key})
                status = response.status_code
            except httpx.TransportError:
                status = 0
            self._record("ticket", status)
            if status in (200, 201):
                with self.lock:
                    self.accepted[key] = int(response.json()["id"])
                return
            time.sleep(0.2)
        with self.lock:
            self.failed.append(key)


def tickets_by_subject(database_url: str, subjects: list[str]) -> dict[str, int]:
    """How many tickets the store holds with each of `subjects`."""
    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                sa.text("SELECT subject, count(*) FROM tickets WHERE subject = ANY(:subjects) GROUP BY subject"),
                {"subjects": subjects},
            ).all()
    finally:
        engine.dispose()
    return {subject: int(count) for subject, count in rows}


def article(slug: str, word: str) -> str:
    return (
        f"---\nid: {slug}\ntitle: The {word} gadget squeaks\nteam: IT\n---\n\n## Symptoms\n\nThe {word} gadget "
        f"squeaks.\n\n## Resolution\n\nOil the {word} hinge.\n"
    )


def found(base: str, token: str, word: str, slug: str) -> bool:
    response = httpx.get(
        f"{base}/v1/search",
        params={"q": f"{word} gadget squeaks"},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    return response.status_code == 200 and slug in [r["article_id"] for r in response.json()["results"]]


def found_everywhere(bases: Sequence[str], token: str, word: str, slug: str, since: float, timeout: float) -> float:
    """Seconds from `since` (a `time.monotonic()`) until every server in `bases` finds the article (polled every
    20 ms); `inf` if one still does not after `timeout` seconds."""
    waiting = list(bases)
    while waiting:
        waiting = [base for base in waiting if not found(base, token, word, slug)]
        if waiting and time.monotonic() - since > timeout:
            return math.inf
        if waiting:
            time.sleep(0.02)
    return time.monotonic() - since


class Receiver:
    """A webhook receiver on the loopback counting deliveries by event id."""

    def __init__(self) -> None:
        self.deliveries: Counter[int] = Counter()
        self.tickets: dict[int, int] = {}  # event id -> ticket id
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                envelope = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if envelope.get("event") == "ticket.created":
                    event_id = int(envelope["event_id"])
                    receiver.deliveries[event_id] += 1
                    receiver.tickets[event_id] = int(envelope["data"]["ticket"]["id"])
                self.send_response(204)
                self.end_headers()

            def log_message(self, *_args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/hook"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self._server.shutdown()


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))] if ordered else float("nan")


def measure_throughput(cluster: Cluster, seconds: float = 15) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {cluster.tokens['ana']}"}

    def path(query: str) -> str:
        return "/v1/search?" + httpx.QueryParams({"q": query}).__str__()

    balanced = Target("3 replicas (balancer)", cluster.base, path, headers)
    alone = Target("1 replica", cluster.members[0].base, path, headers)
    results = {}
    for target in (alone, balanced, balanced, alone):  # each twice, in turn; the better run counts
        run = throughput(target, QUERIES, 8, seconds)
        best = results.get(target.name)
        if best is None or run.per_second > best.per_second:
            results[target.name] = run
    return {name: {"q/s": r.per_second, "p50 ms": r.p50_ms, "statuses": r.statuses} for name, r in results.items()}


def measure_publishes(cluster: Cluster, count: int = 50) -> dict[str, Any]:
    replicas = [m for m in cluster.members if m.process is not None and m.process.poll() is None]
    latencies = []
    for n in range(count):
        word = f"blorvex{n}{uuid.uuid4().hex[:6]}"
        slug = f"gadget-{word}"
        started = time.monotonic()
        publish(
            replicas[n % len(replicas)].base, cluster.tokens["ivan"], cluster.tokens["ines"], slug, article(slug, word)
        )
        latencies.append(found_everywhere([r.base for r in replicas], cluster.tokens["ana"], word, slug, started, 30))
    return {"publishes": count, "p50 s": _percentile(latencies, 50), "p95 s": _percentile(latencies, 95)}


def measure_kill(cluster: Cluster, settle_seconds: float = 150) -> dict[str, Any]:
    receiver = Receiver()
    admin = {"Authorization": f"Bearer {cluster.tokens['root']}"}
    hook = httpx.post(
        f"{cluster.base}/v1/webhooks", json={"url": receiver.url, "events": ["ticket.created"]}, headers=admin
    )
    hook.raise_for_status()
    load = Load(cluster.base, cluster.tokens["ana"])
    load.start()
    time.sleep(5)
    killed_at = time.monotonic()
    cluster.kill(1)
    time.sleep(10)
    load.finish()
    cluster.start_replica(1)
    stored = tickets_by_subject(cluster.database_url, list(load.accepted))
    wanted = set(load.accepted.values())
    deadline = time.monotonic() + settle_seconds  # stale events are handed on by maintenance (KB_MAINTENANCE_SECONDS)
    while time.monotonic() < deadline and not wanted <= set(receiver.tickets.values()):
        time.sleep(1)
    receiver.close()
    delivered = Counter(receiver.tickets[e] for e in receiver.deliveries for _ in range(receiver.deliveries[e]))
    return {
        "tickets accepted": len(load.accepted),
        "lost": len(set(load.accepted) - set(stored)),
        "duplicated": sum(1 for c in stored.values() if c > 1),
        "never accepted": len(load.failed),
        "errors seen (status: count)": dict(load.errors()),
        "errors seen 2 s after the kill": dict(load.errors(killed_at + 2)),
        "events exactly once": sum(1 for t in wanted if delivered[t] == 1),
        "events twice or more": sum(1 for t in wanted if delivered[t] > 1),
        "events never": sum(1 for t in wanted if delivered[t] == 0),
    }


def ticket_p50(base: str, token: str, count: int = 200) -> float:
    headers = {"Authorization": f"Bearer {token}"}
    times = []
    with httpx.Client(base_url=base, timeout=30) as http:
        for n in range(count):
            body = {"subject": f"Timing {n}", "description": "The printer on floor 3 is offline."}
            started = time.perf_counter()
            http.post(
                "/v1/tickets", json=body, headers=headers | {"Idempotency-Key": uuid.uuid4().hex}
            ).raise_for_status()
            times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def measure_ticket_cost(cluster: Cluster) -> dict[str, Any]:
    from kb.store import Store
    from kb.users import UserService

    postgres = ticket_p50(cluster.members[0].base, cluster.tokens["ana"])
    work = cluster.work / "sqlite-alone"
    environment = server_environment(
        work / "data",
        cluster.work / "articles",
        {"KB_AUTH": "token", "KB_MULTILINGUAL": "false", "KB_RATE_LIMIT_PER_MINUTE": "0"},
    )
    work.mkdir(parents=True, exist_ok=True)
    with running_server(KB_SERVE, environment, work / "serve.log", timeout=240) as server:
        store = Store(f"sqlite:///{(work / 'data' / 'kb.sqlite3').resolve()}")
        try:
            _, token = UserService(store.users, store.audit, token_days=1).add(
                "ana", email="ana@example.com", role="employee"
            )
        finally:
            store.close()
        sqlite = ticket_p50(server.base, token)
    return {"PostgreSQL p50 ms": postgres, "SQLite p50 ms": sqlite, "ratio": postgres / sqlite}


def measure(cluster: Cluster) -> dict[str, Any]:
    figures = {
        "searches": measure_throughput(cluster),
        "publish to searchable everywhere": measure_publishes(cluster),
        "kill -9 under load": measure_kill(cluster),
        "ticket creation": measure_ticket_cost(cluster),
    }
    print(json.dumps(figures, indent=2, default=str))
    out = cluster.work / "figures.json"
    out.write_text(json.dumps(figures, indent=2, default=str))
    print(f"(also in {out})")
    return figures


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit("run it through bench/cluster.py --measure")
