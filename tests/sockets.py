"""Raw-socket helpers for the tests that speak to a real server."""

from __future__ import annotations

import socket
import time


def seconds_until_closed(sock: socket.socket, limit: float) -> float | None:
    """Seconds until the server closes `sock` (None: still open after `limit`); what it sent is discarded."""
    sock.settimeout(limit)
    started = time.monotonic()
    try:
        while sock.recv(4096):
            pass
    except TimeoutError:
        return None
    except ConnectionError:
        pass
    return time.monotonic() - started
