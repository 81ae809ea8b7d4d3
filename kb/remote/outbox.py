"""Tickets written while offline, kept until the server has them, delivered exactly once.

An item is stored, with the idempotency key it will always be sent with, before the first attempt to send it: a
crash, a lost response or a server that went away mid-answer leaves it queued, and sending it again with the same
key returns the ticket the first attempt made instead of a second one. The outbox is its own file, beside the local
copy and not in it: dropping a copy (a new format, a server that forgot our cursor) never drops a ticket."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import sqlalchemy as sa

from kb.errors import RemoteRefused
from kb.remote.client import RemoteClient, Retry
from kb.remote.config import private_folder
from kb.store.engine import create_engine

State = Literal["queued", "delivered", "refused"]

_metadata = sa.MetaData()
items = sa.Table(
    "outbox",
    _metadata,
    sa.Column("n", sa.Integer, primary_key=True, autoincrement=True),  # the order they were written in
    sa.Column("key", sa.String, nullable=False, unique=True),
    sa.Column("server", sa.String, nullable=False),
    sa.Column("payload", sa.JSON, nullable=False),
    sa.Column("state", sa.String, nullable=False),
    sa.Column("created_at", sa.String, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("last_error", sa.String),
    sa.Column("result", sa.JSON),  # the server's answer once delivered (the ticket)
)
TICKETS = "/v1/tickets"
NOT_SIGNED_IN = frozenset({401, 403})


@dataclass(frozen=True)
class OutboxItem:
    key: str
    server: str
    payload: dict[str, Any]
    state: State
    created_at: str
    attempts: int
    last_error: str | None
    result: dict[str, Any] | None

    @property
    def subject(self) -> str:
        return str(self.payload.get("subject", ""))


@dataclass(frozen=True)
class Flushed:
    delivered: list[OutboxItem]
    refused: list[OutboxItem]


class Outbox:
    def __init__(self, folder: Path) -> None:
        private_folder(folder)
        self._engine = create_engine(f"sqlite:///{(folder / 'outbox.sqlite3').resolve()}")
        _metadata.create_all(self._engine)

    def close(self) -> None:
        self._engine.dispose()

    def queue_ticket(self, server: str, payload: dict[str, Any]) -> OutboxItem:
        """Keep a ticket (committed to disk) with the key every attempt to send it will carry."""
        key = str(uuid.uuid4())
        values = {
            "key": key,
            "server": server,
            "payload": payload,
            "state": "queued",
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "attempts": 0,
        }
        with self._engine.begin() as conn:
            conn.execute(sa.insert(items).values(**values))
        return self.get(key)

    def get(self, key: str) -> OutboxItem:
        with self._engine.connect() as conn:
            row = conn.execute(sa.select(items).where(items.c.key == key)).one()
        return _item(row._mapping)

    def list(self, server: str | None = None, state: State | None = None) -> list[OutboxItem]:
        query = sa.select(items).order_by(items.c.n)
        if server is not None:
            query = query.where(items.c.server == server)
        if state is not None:
            query = query.where(items.c.state == state)
        with self._engine.connect() as conn:
            return [_item(row._mapping) for row in conn.execute(query)]

    def deliver(self, client: RemoteClient, item: OutboxItem, retry: Retry | None = None) -> OutboxItem:
        """Send `item` with its key. Delivered or refused (4xx: sending it again cannot help) is recorded; a
        server out of reach raises RemoteUnavailable and leaves it queued, its attempt counted."""
        self._update(item.key, attempts=items.c.attempts + 1)
        try:
            response = client.request(
                "POST", TICKETS, json=item.payload, headers={"Idempotency-Key": item.key}, retry=retry
            )
        except RemoteRefused as exc:
            # A bad token says nothing of the ticket: it waits for a good one. Any other 4xx is the ticket's own.
            state = "queued" if exc.status in NOT_SIGNED_IN else "refused"
            self._update(item.key, state=state, last_error=exc.detail)
            raise
        except Exception as exc:
            self._update(item.key, last_error=str(exc))
            raise
        self._update(item.key, state="delivered", result=response.json(), last_error=None)
        return self.get(item.key)

    def flush(self, client: RemoteClient) -> Flushed:
        """Send every queued item for `client`'s server, oldest first (each with the client's retries and
        backoff); the first server failure, or a token the server refuses, stops the flush: the rest wait."""
        delivered, refused = [], []
        for item in self.list(client.url, "queued"):
            try:
                delivered.append(self.deliver(client, item))
            except RemoteRefused as exc:
                if exc.status in NOT_SIGNED_IN:
                    raise
                refused.append(self.get(item.key))
        return Flushed(delivered, refused)

    def _update(self, key: str, **values: Any) -> None:
        with self._engine.begin() as conn:
            conn.execute(sa.update(items).where(items.c.key == key).values(**values))


def _item(row: Any) -> OutboxItem:
    return OutboxItem(
        key=row["key"],
        server=row["server"],
        payload=row["payload"],
        state=row["state"],
        created_at=row["created_at"],
        attempts=row["attempts"],
        last_error=row["last_error"],
        result=row["result"],
    )
