"""A local cluster: PostgreSQL, several `kb serve` replicas (each its own data dir and in-memory index, all on one
database) and a round-robin load balancer (bench/balancer.py), on this machine's loopback. Used by the replica
tests (tests/api/test_replicas.py) and by anyone who wants to try kb as several servers:

    HF_HUB_OFFLINE=1 .venv/bin/python bench/cluster.py               # start it, print the URLs, Ctrl-C stops it
    HF_HUB_OFFLINE=1 .venv/bin/python bench/cluster.py --measure     # the figures of issue 24, in one run

PostgreSQL runs from Debian's packages (postgresql) in a temporary data directory, as `nobody` when we are root.
The replicas use tokens (KB_AUTH=token): behind a balancer every request comes from the balancer's address, so the
loopback must not be trusted. The users `ana` (employee), `ivan` (agent, IT) and `root` (admin) are created and
their tokens printed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.postgres import PostgresServer  # noqa: E402
from bench.server import HOST, KB_SERVE, free_port, server_environment, start, stop, tail, wait_ready  # noqa: E402

STARTER = REPO / "articles"
START_TIMEOUT_S = 240.0
USERS = (("ana", "employee", ()), ("ivan", "agent", ("IT",)), ("ines", "agent", ("IT",)), ("root", "admin", ()))


@dataclass
class Replica:
    name: str
    port: int
    data_dir: Path
    log_path: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def base(self) -> str:
        return f"http://{HOST}:{self.port}"


@dataclass
class Cluster:
    """PostgreSQL + replicas + balancer under `work`; `start()` brings them up, `close()` takes them down."""

    work: Path
    replicas: int = 3
    articles: Path = STARTER
    settings: Mapping[str, str] = field(default_factory=dict)
    postgres: PostgresServer | None = None
    database_url: str = ""
    members: list[Replica] = field(default_factory=list)
    balancer: subprocess.Popen[bytes] | None = None
    balancer_port: int = 0
    tokens: dict[str, str] = field(default_factory=dict)
    snapshot: Path | None = None  # the first replica's index as it was at the start

    @property
    def base(self) -> str:
        """The balancer's URL: where clients go."""
        return f"http://{HOST}:{self.balancer_port}"

    def start(self, *, spare: int = 0) -> None:
        """PostgreSQL, the users, `replicas` servers (plus `spare` ones known to the balancer, not started) and the
        balancer in front of them all."""
        self.work.mkdir(parents=True, exist_ok=True)
        shutil.copytree(self.articles, self.work / "articles", dirs_exist_ok=True)
        self.postgres = PostgresServer(durable=True)
        self.postgres.start()
        self.database_url = self.postgres.url(self.postgres.create_database())
        self._add_users()
        for number in range(self.replicas + spare):
            name = f"replica-{number + 1}"
            self.members.append(
                Replica(name, free_port(), self.work / name, self.work / f"{name}.log"),
            )
        # The first imports the articles and builds its index; the others start together from a copy of it, as a
        # server started from an image or a snapshot of the index would (without it, each builds its own from the
        # store). The copy is kept: a spare started later begins from it, behind every change made since.
        self.start_replica(0)
        self.snapshot = self.work / "index-snapshot"
        shutil.copytree(self.members[0].data_dir / "index", self.snapshot, ignore=shutil.ignore_patterns(".*"))
        for replica in self.members[1:]:
            shutil.copytree(self.snapshot, replica.data_dir / "index")
        for replica in self.members[1 : self.replicas]:
            self.start_replica(self.members.index(replica), wait=False)
        for replica in self.members[1 : self.replicas]:
            self.wait(replica)
        self._start_balancer()

    def environment(self, replica: Replica) -> dict[str, str]:
        overrides = {
            "KB_DATABASE_URL": self.database_url,
            "KB_AUTH": "token",
            "KB_FORWARDED_ALLOW_IPS": HOST,  # the balancer: its X-Forwarded-For names the client
            "KB_RATE_LIMIT_PER_MINUTE": "0",
            "KB_WEBHOOK_ALLOWED_TARGETS": '["127.0.0.0/8"]',
            # The encoders' exported graphs, made once for every replica (not once per data dir).
            "KB_MODEL_CACHE_DIR": os.environ.get("KB_MODEL_CACHE_DIR", str(REPO / ".cache" / "models")),
            **self.settings,
        }
        return server_environment(replica.data_dir, self.work / "articles", overrides)

    def start_replica(self, number: int, *, wait: bool = True) -> Replica:
        replica = self.members[number]
        replica.process = start(KB_SERVE, replica.port, self.environment(replica), replica.log_path)
        if wait:
            self.wait(replica)
        return replica

    def wait(self, replica: Replica, timeout: float = START_TIMEOUT_S) -> float:
        assert replica.process is not None
        return wait_ready(replica.base, replica.process, replica.log_path, timeout)

    def kill(self, number: int) -> None:
        """`kill -9` the replica: no shutdown, requests in flight cut off."""
        process = self.members[number].process
        if process is not None and process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
            process.wait()

    def _add_users(self) -> None:
        from kb.store import Store
        from kb.users import UserService

        store = Store(self.database_url)
        try:
            users = UserService(store.users, store.audit, token_days=30)
            for name, role, teams in USERS:
                _, self.tokens[name] = users.add(name, email=f"{name}@example.com", role=role, teams=teams)
        finally:
            store.close()

    def _start_balancer(self) -> None:
        self.balancer_port = free_port()
        command = [sys.executable, str(REPO / "bench" / "balancer.py"), "--port", str(self.balancer_port)]
        for replica in self.members:
            command += ["--backend", replica.base]
        log_path = self.work / "balancer.log"
        with log_path.open("ab") as log:
            self.balancer = subprocess.Popen(command, cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
        wait_ready(self.base, self.balancer, log_path, 30)

    def close(self) -> None:
        if self.balancer is not None:
            stop(self.balancer, 5)
        for replica in self.members:
            if replica.process is not None:
                stop(replica.process, 20)
        if self.postgres is not None:
            self.postgres.destroy()

    def logs(self) -> str:
        return "\n".join(f"--- {r.name}\n{tail(r.log_path, 15)}" for r in self.members)


@contextmanager
def running_cluster(
    work: Path | None = None,
    *,
    replicas: int = 3,
    spare: int = 0,
    articles: Path = STARTER,
    settings: Mapping[str, str] | None = None,
) -> Iterator[Cluster]:
    """A started cluster until the block ends (its folder removed then, unless it is `work`)."""
    folder = work or Path(tempfile.mkdtemp(prefix="kb-cluster-"))
    cluster = Cluster(folder, replicas=replicas, articles=articles, settings=dict(settings or {}))
    try:
        cluster.start(spare=spare)
        yield cluster
    finally:
        cluster.close()
        if work is None:
            shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--replicas", type=int, default=3)
    parser.add_argument("--work", type=Path, help="keep the cluster's folders here (default: a temporary folder)")
    parser.add_argument("--measure", action="store_true", help="run the measurements, print them, and stop")
    args = parser.parse_args()
    # Measuring: maintenance every 5 s, so that an event a killed replica left undispatched is handed on soon.
    settings = {"KB_MAINTENANCE_SECONDS": "5"} if args.measure else {}
    with running_cluster(args.work, replicas=args.replicas, settings=settings) as cluster:
        print(f"PostgreSQL: {cluster.database_url}")
        for replica in cluster.members:
            print(f"{replica.name}: {replica.base} (log {replica.log_path})")
        print(f"balancer: {cluster.base}")
        for name, token in cluster.tokens.items():
            print(f"token of {name}: {token}")
        if args.measure:
            from bench.cluster_measure import measure

            measure(cluster)
            return
        print("Ctrl-C stops the cluster.")
        try:
            while True:
                time.sleep(1)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
