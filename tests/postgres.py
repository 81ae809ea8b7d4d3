"""The session's PostgreSQL server for the tests (bench/postgres.py), or a skip saying what to install."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from bench.postgres import PostgresServer, ServerMissing


def new_server() -> PostgresServer:
    """A new server, not started yet. Without PostgreSQL on the machine the test is skipped, saying what to install;
    under CI=true it fails instead, since CI installs it (.ci/run) and a skip there would hide every such test."""
    try:
        return PostgresServer()
    except ServerMissing as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(str(exc))
        pytest.skip(str(exc))


@contextmanager
def started_server() -> Iterator[PostgresServer]:
    """A new server, started, and destroyed when the block ends (or skipped: see `new_server`)."""
    server = new_server()
    try:
        server.start()
        yield server
    finally:
        server.destroy()
