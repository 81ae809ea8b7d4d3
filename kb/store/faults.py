"""Storage faults as the domain sees them: a store that cannot take a write now is StorageUnavailable (503 with
Retry-After at the API, one line at the CLI), not a driver error surfacing as a 500 and a traceback."""

from __future__ import annotations

import logging
import os
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
    "25006": "the database is read-only",
    "55P03": "a row stayed locked past the wait",
    "57P03": "the database server is starting or shutting down",
}


def storage_fault(error: BaseException) -> str | None:
    """What is wrong with the storage, when `error` says the store cannot take a write now (None otherwise)."""
    if isinstance(error, sa.exc.TimeoutError):  # the pool's: every connection in use past the wait
        return "every connection to the database stayed busy past the wait"
    name = getattr(error, "sqlite_errorname", None)
    if isinstance(name, str):
        return next((reason for code, reason in _SQLITE.items() if name.startswith(code)), None)
    state = getattr(error, "sqlstate", None) or getattr(error, "pgcode", None)
    return _SQLSTATE.get(state) if isinstance(state, str) else None


def as_storage_error(error: BaseException) -> StorageUnavailable | None:
    """The domain error for `error` when it is a storage fault (None otherwise)."""
    reason = storage_fault(error)
    return None if reason is None else StorageUnavailable(f"{reason}; try again later")


def translate_storage_faults(engine: Engine) -> None:
    """Raise StorageUnavailable instead of the driver's error for every storage fault on `engine`."""

    def on_error(context: Any) -> None:
        if (error := as_storage_error(context.original_exception)) is not None:
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
