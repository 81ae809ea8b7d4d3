"""How `kb serve` treats connections: uvicorn's h11 protocol with the two timers uvicorn lacks.

Uvicorn (0.54, h11) times only the gap after a response (`timeout_keep_alive`), and any byte received cancels that
timer: a connection that never sends a request, or sends one a byte at a time, is held for ever (a file handle each,
and each counts against `limit_concurrency`). This protocol adds:

- the idle timer on a new connection too: one that sends nothing is closed after `timeout_keep_alive`, as between
  requests;
- a header deadline: a request's line and headers must have arrived `header_timeout` seconds after the connection
  began waiting for it (opened, or its previous response ended), however the bytes trickle in; past it, closed.

Once a request's headers are in, the app has it and no deadline runs: a body's size is bounded (KB_MAX_BODY_BYTES),
not the time it takes to arrive.
`kb serve` selects it through uvicorn's `http` option (see `kb.cli.main.uvicorn_options`).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import h11
from uvicorn.config import Config
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.server import ServerState

log = logging.getLogger(__name__)

DEFAULT_HEADER_TIMEOUT = 10.0


class HeaderDeadlineProtocol(H11Protocol):
    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
        *,
        header_timeout: float = DEFAULT_HEADER_TIMEOUT,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.header_timeout = header_timeout
        self._header_deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        # Idle before the first request, timed like idle between requests; the first byte cancels it (uvicorn).
        self.timeout_keep_alive_task = self.loop.call_later(self.timeout_keep_alive, self.timeout_keep_alive_handler)
        self._watch_headers()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._watch_headers()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._watch_headers()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_header_deadline()
        super().connection_lost(exc)

    def _watch_headers(self) -> None:
        """Run the deadline while the connection waits for a request's headers (h11: the client is IDLE), stop it
        once they are in (the request goes to the app)."""
        waiting = self.conn.their_state is h11.IDLE and not self.transport.is_closing()
        if waiting and self._header_deadline is None:
            self._header_deadline = self.loop.call_later(self.header_timeout, self._headers_too_slow)
        elif not waiting:
            self._cancel_header_deadline()

    def _cancel_header_deadline(self) -> None:
        if self._header_deadline is not None:
            self._header_deadline.cancel()
            self._header_deadline = None

    def _headers_too_slow(self) -> None:
        self._header_deadline = None
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            client = f"{self.client[0]}:{self.client[1]}" if self.client else "a client"
            log.info("%s sent no complete request headers in %g s: connection closed", client, self.header_timeout)
            # As uvicorn's own keep-alive timeout does: no request was received, so there is nothing to answer.
            self.transport.close()
