"""`kb remote` through its entry point, with no server to reach: signing in (the config file is the owner's alone),
clear one-line errors instead of tracebacks, and a ticket queued in the outbox while offline."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bench.server import free_port
from kb.cli.main import app

runner = CliRunner()


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "remote-home"


def _kb(home: Path, *args: str) -> tuple[int, str]:
    result = runner.invoke(
        app,
        ["remote", *args],
        env={"KB_REMOTE_HOME": str(home), "KB_REMOTE_TIMEOUT_SECONDS": "1", "COLUMNS": "200"},
    )
    assert "Traceback" not in result.output
    return result.exit_code, result.output


def _offline_url() -> str:
    return f"http://127.0.0.1:{free_port()}"  # nobody listens there


def test_login_keeps_the_server_and_token_readable_by_the_owner_alone(home: Path) -> None:
    url = _offline_url()
    code, output = _kb(home, "login", url + "/", "--token", "s3cret")
    assert code == 0, output
    assert "did not answer" in output  # saved anyway: the next sync checks it
    config = home / "remote.json"
    assert json.loads(config.read_text()) == {"url": url, "token": "s3cret"}
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    assert stat.S_IMODE(home.stat().st_mode) == 0o700


def test_a_bad_server_address_is_refused_and_nothing_is_saved(home: Path) -> None:
    code, output = _kb(home, "login", "ftp://kb.example.com", "--token", "t")
    assert code == 1 and "not a server address" in output
    assert not (home / "remote.json").exists()


def test_commands_before_login_say_what_to_do(home: Path) -> None:
    for args in (("sync",), ("search", "vpn"), ("outbox",)):
        code, output = _kb(home, *args)
        assert code == 1 and "kb remote login" in output, args


def test_offline_a_ticket_is_queued_and_listed_and_search_explains_there_is_no_copy(home: Path) -> None:
    _kb(home, "login", _offline_url(), "--token", "t")
    code, output = _kb(home, "ticket", "--subject", "Laptop fan is loud", "--description", "Since the update.")
    assert code == 0 and "queued" in output and "kb remote sync" in output
    code, output = _kb(home, "outbox")
    assert code == 0 and "Laptop fan is loud" in output and "queued" in output
    code, output = _kb(home, "search", "laptop fan noise")
    assert code == 1 and "no local copy yet" in output
    code, output = _kb(home, "sync")
    assert code == 1 and "cannot connect" in output


def test_a_ticket_that_the_server_would_refuse_is_refused_before_it_is_queued(home: Path) -> None:
    _kb(home, "login", _offline_url(), "--token", "t")
    code, output = _kb(home, "ticket", "--subject", "  ", "--description", "x")
    assert code == 1 and "subject is empty" in output
    code, output = _kb(home, "ticket", "--subject", "s", "--description", "d", "--priority", "asap")
    assert code == 1 and "unknown priority" in output
    assert "Nothing waits" in _kb(home, "outbox")[1]
