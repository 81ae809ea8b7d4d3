"""A throwaway PostgreSQL server for the tests and the local cluster (bench/cluster.py): its own data directory in a
temporary folder, a free port on the loopback, stopped and deleted afterwards. For the tests durability is switched
off (a test database is never worth a disk flush); the cluster's benchmark keeps it, as production does.

Why a real server rather than a mocked dialect: what differs between SQLite and PostgreSQL (transactions aborted by
an error, time zones, JSON, booleans, sequences, locks, DDL in migrations) only shows on the real thing.

initdb and postgres refuse to run as root, and CI runs as root: there the server runs as `nobody` (through
`runuser`, or `setpriv` where that is missing), in a folder given to it. Each test gets a database of its own,
copied from a template that already holds the migrated schema (a copy takes a fraction of a migration's time).
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import sqlalchemy as sa

SERVER_PACKAGE = "Debian package postgresql"
# Not UTC on purpose: a time written or compared without its zone shows up as a wrong hour, not by luck as right.
SERVER_TIME_ZONE = "America/Sao_Paulo"
_UNPRIVILEGED_USER = "nobody"


class ServerMissing(Exception):
    """No PostgreSQL server binary on this machine."""


def server_bindir() -> Path:
    """The folder holding initdb, pg_ctl and postgres: `pg_config --bindir` when it has them (pg_config alone comes
    with libpq-dev, without a server), else the newest /usr/lib/postgresql/*/bin that does."""
    candidates: list[Path] = []
    if pg_config := shutil.which("pg_config"):
        found = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=False)
        if found.returncode == 0 and found.stdout.strip():
            candidates.append(Path(found.stdout.strip()))

    def version(folder: str) -> int:
        match = re.search(r"/postgresql/(\d+)/", folder)
        return int(match.group(1)) if match else 0

    candidates += [Path(folder) for folder in sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=version, reverse=True)]
    for folder in candidates:
        if all((folder / tool).is_file() for tool in ("initdb", "pg_ctl", "postgres")):
            return folder
    raise ServerMissing(
        f"PostgreSQL server binaries not found ({SERVER_PACKAGE}): no initdb, pg_ctl and postgres in "
        f"`pg_config --bindir` nor in /usr/lib/postgresql/*/bin"
    )


def _scratch_folder() -> str | None:
    """Memory (/dev/shm) when there is room: a database copied per test costs 10 ms there and up to 300 ms on a
    disk, where the copy is written back even with fsync off; else the usual temporary folder."""
    shm = "/dev/shm"
    try:
        usage = shutil.disk_usage(shm)
    except OSError:
        return None
    return shm if os.access(shm, os.W_OK) and usage.free > 1 << 30 else None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _as_server_user() -> tuple[list[str], int | None]:
    """The command prefix that runs the server's tools as an unprivileged user when we are root, and that user's
    uid (to give it the folder); nothing to add otherwise."""
    if os.geteuid() != 0:
        return [], None
    user = pwd.getpwnam(_UNPRIVILEGED_USER)
    if runuser := shutil.which("runuser"):
        return [runuser, "-u", _UNPRIVILEGED_USER, "--"], user.pw_uid
    if setpriv := shutil.which("setpriv"):
        return [setpriv, f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}", "--clear-groups"], user.pw_uid
    raise ServerMissing("running as root, and neither runuser nor setpriv is here to start PostgreSQL as nobody")


class PostgresServer:
    """One server in its own temporary folder (data, Unix socket, log); `start()`, `stop()`, `start()` again."""

    def __init__(self, bindir: Path | None = None, *, durable: bool = False) -> None:
        self.bindir = bindir or server_bindir()
        self.durable = durable  # every commit flushed to disk, as in production (a benchmark's comparison)
        self._prefix, uid = _as_server_user()
        # Not pytest's tmp_path: its parent (/tmp/pytest-of-root) is closed to `nobody`. A short path, too: the
        # socket's path must fit in 107 bytes.
        # A durable server's files on a disk, as production's: in memory its flushes would cost nothing.
        self.root = Path(tempfile.mkdtemp(prefix="kb-pg-", dir=None if durable else _scratch_folder()))
        if uid is not None:
            os.chown(self.root, uid, -1)
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.port = 0
        self._names = itertools.count(1)
        self._admin: sa.Engine | None = None
        self._migrated: str | None = None
        try:
            version = re.search(r"\(PostgreSQL\) (\d+)", self._run("postgres", "--version").stdout)
            self._major = int(version.group(1)) if version else 0
            self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync")
        except BaseException:
            shutil.rmtree(self.root, ignore_errors=True)
            raise

    # Lifecycle ------------------------------------------------------------------------------------------
    def start(self) -> None:
        """Start (or start again, on the same port once it has one) and wait until it accepts connections."""
        for attempt in range(3):
            port = self.port or _free_port()
            options = " ".join(
                (
                    "-c listen_addresses=127.0.0.1",
                    f"-c port={port}",
                    f"-c unix_socket_directories={self.root}",
                    "" if self.durable else "-c fsync=off -c synchronous_commit=off -c full_page_writes=off",
                    "-c max_connections=300",  # tests that leave a store open hold its connections a while
                    f"-c timezone={SERVER_TIME_ZONE}",
                )
            )
            started = self._run(
                "pg_ctl",
                "-D",
                str(self.data),
                "-l",
                str(self.log),
                "-w",
                "-t",
                "60",
                "-o",
                options,
                "start",
                check=False,
            )
            if started.returncode == 0:
                self.port = port
                return
            if self.port or attempt == 2:  # a restart keeps its port: a client must find it where it was
                raise RuntimeError(f"PostgreSQL did not start: {started.stderr.strip()}\n{self.log_tail()}")

    def stop(self, mode: str = "fast") -> None:
        """`fast`: disconnect clients and shut down cleanly; `immediate`: as if the machine died (fine in tests)."""
        if self._admin is not None:
            self._admin.dispose()
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop", check=False)

    def destroy(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    # Databases ------------------------------------------------------------------------------------------
    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, template: str | None = None) -> str:
        """A new database's name: empty, or a copy of `template` (which nobody may be connected to)."""
        name = f"kb_{next(self._names)}"
        self._admin_execute(self._create_sql(name, template))
        return name

    def replace_database(self, name: str, template: str) -> None:
        """`name` dropped (its connections cut) and created again as a copy of `template`."""
        self.drop_database(name)
        self._admin_execute(self._create_sql(name, template))

    def drop_database(self, name: str) -> None:
        """Dropped even while a test's store still holds connections to it (WITH FORCE ends them)."""
        self._admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def migrated_template(self) -> str:
        """A database at the head revision, built once per server, to copy for each test."""
        if self._migrated is None:
            from kb.store import Store

            name = self.create_database()
            Store(self.url(name)).close()
            self._migrated = name
        return self._migrated

    def _create_sql(self, name: str, template: str | None) -> str:
        if template is None:
            return f'CREATE DATABASE "{name}"'
        # FILE_COPY: a small template is copied faster file by file than through the WAL (15's default).
        strategy = " STRATEGY FILE_COPY" if self._major >= 15 else ""
        return f'CREATE DATABASE "{name}" TEMPLATE "{template}"{strategy}'

    def _admin_execute(self, sql: str) -> None:
        if self._admin is None:
            self._admin = sa.create_engine(self.url(), isolation_level="AUTOCOMMIT", pool_pre_ping=True)
        with self._admin.connect() as connection:
            connection.exec_driver_sql(sql)

    # Tools ----------------------------------------------------------------------------------------------
    def _run(self, tool: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        environment: dict[str, Any] = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C.UTF-8"}
        command = [*self._prefix, str(self.bindir / tool), *args]
        done = subprocess.run(command, capture_output=True, text=True, env=environment, cwd=self.root, check=False)
        if check and done.returncode != 0:
            raise RuntimeError(f"{tool} failed ({done.returncode}): {done.stderr.strip() or done.stdout.strip()}")
        return done
