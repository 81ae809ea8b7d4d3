"""A full or read-only data directory: clear 503s for writes that matter, best effort for logs, one-line startup
errors. The data directory sits on a real, tiny filesystem (a tmpfs mounted for the test)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api.app import create_app
from kb.cli.main import app as cli
from kb.service import KnowledgeBase
from kb.settings import Settings
from kb.store.tickets import TicketFilter
from tests.conftest import TRUSTED, bearer, copy_small_articles
from tests.fakes import HashingEmbedder

EMBEDDER = HashingEmbedder()
TICKET = {"subject": "Printer offline", "description": "The floor printer shows offline.", "requester": "ana"}


@contextmanager
def _mount_tmpfs(folder: Path, options: str) -> Iterator[Path]:
    folder.mkdir(parents=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {mounted.stderr.decode().strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    with _mount_tmpfs(tmp_path / "disk", "size=8m") as disk:
        yield disk


def _fill(disk: Path) -> Path:
    """Write until the filesystem is full; return the filler to delete for room."""
    filler = disk / "filler"
    with suppress(OSError), filler.open("wb", buffering=0) as out:
        while True:
            out.write(b"\0" * 65536)
    return filler


def _indexed(data_dir: Path, tmp_path: Path) -> Settings:
    """Settings over `data_dir`, with the small articles indexed there."""
    settings = Settings(
        data_dir=data_dir,
        articles_dir=copy_small_articles(tmp_path / "articles"),
        trusted_clients=TRUSTED,
        rate_limit_per_minute=0,
    )
    seed = KnowledgeBase(settings, embedder=EMBEDDER)
    seed.indexing.build()
    seed.close()
    return settings


def test_a_full_disk_refuses_tickets_with_503_and_keeps_serving_reads(tiny_disk: Path, tmp_path: Path) -> None:
    settings = _indexed(tiny_disk / "data", tmp_path)
    with TestClient(create_app(settings, embedder=EMBEDDER)) as client:
        accepted = client.post("/v1/tickets", json=TICKET)
        assert accepted.status_code == 201
        ticket_id = accepted.json()["id"]
        filler = _fill(tiny_disk)

        refused = [client.post("/v1/tickets", json=TICKET) for _ in range(5)]
        for response in refused:
            assert response.status_code == 503, response.text
            assert response.headers["content-type"].startswith("application/problem+json")
            assert int(response.headers["Retry-After"]) > 0
            assert "full" in response.json()["detail"]
        # Reads go on; what they would log is dropped and counted instead of failing them.
        for _ in range(3):
            search = client.get("/v1/search", params={"q": "printer offline"})
            assert search.status_code == 200, search.text
        read = client.get(f"/v1/tickets/{ticket_id}")  # as the local admin: writes a view audit
        assert read.status_code == 200, read.text
        dropped = client.get("/readyz").json()["dropped_writes"]
        assert dropped["search_log"] >= 3

        filler.unlink()
        assert client.post("/v1/tickets", json=TICKET).status_code == 201
    # Nothing accepted was lost: the first ticket and the last one, no half-written ones between.
    after = KnowledgeBase(settings, embedder=EMBEDDER)
    try:
        assert len(after.store.tickets.find(TicketFilter())) == 2
    finally:
        after.close()


def test_serve_on_a_read_only_data_directory_says_so_in_one_line(tmp_path: Path) -> None:
    with _mount_tmpfs(tmp_path / "ro", "ro,size=1m") as read_only:
        result = CliRunner().invoke(cli, ["serve", "--no-reindex"], env={"KB_DATA_DIR": str(read_only / "data")})
    assert result.exit_code != 0
    output = result.output.strip()
    assert "Traceback" not in output
    assert len(output.splitlines()) == 1, output
    assert "not writable" in output and "Read-only file system" in output


def test_a_read_only_store_refuses_writes_with_503_and_keeps_serving_reads(tmp_path: Path) -> None:
    """The same without root: SQLite's own read-only switch (`PRAGMA query_only`) on every connection of the store."""
    settings = _indexed(tmp_path / "data", tmp_path)

    def read_only(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute("PRAGMA query_only = 1")

    with TestClient(create_app(settings, embedder=EMBEDDER)) as client:
        ticket_id = client.post("/v1/tickets", json=TICKET).json()["id"]
        kb: KnowledgeBase = client.app.state.kb  # type: ignore[attr-defined]
        _, token = kb.users.add("rita", email="rita@example.com", role="employee")
        engines = {kb.store.engine, kb.store.search_log._engine, kb.store.audit._engine}
        for engine in engines:
            engine.dispose()
            sa.event.listen(engine, "connect", read_only)

        refused = client.post("/v1/tickets", json=TICKET)
        assert refused.status_code == 503, refused.text
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert int(refused.headers["Retry-After"]) > 0
        assert "read-only" in refused.json()["detail"]
        assert client.get("/v1/search", params={"q": "printer offline"}).status_code == 200
        assert client.get(f"/v1/tickets/{ticket_id}").status_code == 200
        # A token's first sign-in and a bad token are audited too: still a 200 and a 401, never a 503.
        assert client.get("/v1/search", params={"q": "badge"}, headers=bearer(token)).status_code == 200
        assert client.get("/v1/search", params={"q": "badge"}, headers=bearer("not-a-token")).status_code == 401
        assert client.get("/readyz").json()["dropped_writes"] == {"search_log": 2, "audit": 3}

        for engine in engines:
            sa.event.remove(engine, "connect", read_only)
            engine.dispose()
        assert client.post("/v1/tickets", json=TICKET).status_code == 201
