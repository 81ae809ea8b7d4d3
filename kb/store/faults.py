"""Storage faults as the domain sees them: a store that cannot take a write now is StorageUnavailable (503 with
Retry-After at the API, one line at the CLI), not a driver error surfacing as a 500 and a traceback. On SQLite: a
full or read-only disk, a lock held past the wait; on PostgreSQL also a server that is down, restarting or failing
over (reported within the engine's connect timeout), and a write that collided with another one."""

from __future__ import annotations

import logging
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from kb.errors import StorageUnavailable

log = logging.getLogger(__name__)

# SQLite's result codes (Python ≥ 3.11 names them on the exception), extended codes included by prefix.
_SQLITE = {
    "SQLITE_FULL": "the disk holding the data directory is full",
    "SQLITE_READONLY": "the data directory is read-only",
    "SQLITE_BUSY": "the database stayed locked by another writer past the wait",
    "SQLITE_LOCKED": "the database stayed locked by another writer past the wait",
    "SQLITE_IOERR": "the disk holding the data directory failed a read or write (full?)",
    "SQLITE_CANTOPEN": "the database file cannot be opened (missing or read-only data directory?)",
}
# The same kinds of fault on PostgreSQL, by SQLSTATE.
_SQLSTATE = {
    "53100": "the database server's disk is full",
    "53200": "the database server is out of memory",
    "53300": "the database server has no connection left",
    "25006": "the database is read-only",
    "55P03": "a row stayed locked past the wait",
    "40001": "the write collided with a concurrent one",
    "40P01": "the write collided with a concurrent one",
    "57P01": "the database server is shutting down",
    "57P02": "the database server is restarting after a crash",
    "57P03": "the database server is starting or shutting down",
}
# SQLSTATE class 08: the connection itself failed (refused, broken, rejected).
_CONNECTION_CLASS = "08"
_UNREACHABLE = "the database server cannot be reached (down or restarting?)"
# Faults that pass within seconds (a restart, a fail-over, a collision with another writer), unlike a full disk:
# the client is told to retry sooner.
_PASSING = {_UNREACHABLE, *(_SQLSTATE[state] for state in ("40001", "40P01", "57P01", "57P02", "57P03"))}
_PASSING_RETRY_SECONDS = 5


def storage_fault(error: BaseException) -> str | None:
    """What is wrong with the storage, when `error` says the store cannot take a write now (None otherwise)."""
    if isinstance(error, sa.exc.TimeoutError):  # the pool's: every connection in use past the wait
        return "every connection to the database stayed busy past the wait"
    name = getattr(error, "sqlite_errorname", None)
    if isinstance(name, str):
        return next((reason for code, reason in _SQLITE.items() if name.startswith(code)), None)
    state = getattr(error, "sqlstate", None) or getattr(error, "pgcode", None)
    if isinstance(state, str):
        return _UNREACHABLE if state.startswith(_CONNECTION_CLASS) else _SQLSTATE.get(state)
    return _UNREACHABLE if _is_psycopg_connection_failure(error) else None


def _is_psycopg_connection_failure(error: BaseException) -> bool:
    """psycopg's OperationalError without a SQLSTATE: the client could not connect or lost the connection (refused,
    timed out, closed by the server) before any server answered. psycopg is only looked at when it is loaded: an
    error cannot come from a driver that was never imported."""
    psycopg = sys.modules.get("psycopg")
    return psycopg is not None and isinstance(error, psycopg.OperationalError) and error.sqlstate is None


def as_storage_error(error: BaseException, *, disconnected: bool = False) -> StorageUnavailable | None:
    """The domain error for `error` (the driver's, or SQLAlchemy's wrapping of it) when it is a storage fault, None
    otherwise; `disconnected`: SQLAlchemy's dialect judged it a lost connection."""
    if isinstance(error, sa.exc.DBAPIError):
        disconnected = disconnected or error.connection_invalidated
        error = error.orig or error
    reason = storage_fault(error) or (_UNREACHABLE if disconnected else None)
    if reason is None:
        return None
    unavailable = StorageUnavailable(f"{reason}; try again later")
    if reason in _PASSING:
        unavailable.retry_after = _PASSING_RETRY_SECONDS
    return unavailable


def translate_storage_faults(engine: Engine) -> None:
    """Raise StorageUnavailable instead of the driver's error for every storage fault on `engine`.

    Not on the pool's pre-ping: a dead pooled connection (the server restarted since it was opened) is SQLAlchemy's
    to replace; only when the new connection fails too is the store unavailable."""

    def on_error(context: Any) -> None:
        if context.is_pre_ping:
            return
        error = as_storage_error(context.original_exception, disconnected=bool(context.is_disconnect))
        if error is not None:
            log.warning("storage fault: %s (%s)", error.detail, context.original_exception)
            raise error

    sa.event.listen(engine, "handle_error", on_error)


def check_writable(folder: Path) -> None:
    """Refuse to start on a data directory kb cannot write (tickets, the index and the store live there):
    one clear StorageUnavailable, rather than a driver error on the first ticket."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        descriptor, probe = tempfile.mkstemp(prefix=".write-check-", dir=folder)
        os.close(descriptor)
        os.unlink(probe)
    except OSError as exc:
        raise StorageUnavailable(
            f"the data directory {folder} is not writable ({exc.strerror or exc}); "
            "kb keeps its store and index there: point KB_DATA_DIR at a writable folder",
            field="data_dir",
        ) from None
